"""Transfer to mmdet / mmseg: checkpoint -> backbone conversion, benchmark config
preparation, and the C4 shared head ``ResLayerExtraNorm`` (needs mmdet: benchmark configs
load it with ``custom_imports``, so it is not imported here)."""
