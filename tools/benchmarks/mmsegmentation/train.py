"""Train a mmsegmentation transfer benchmark with mmengine's Runner (the mmseg wheel
ships no tools/train.py).

    python tools/benchmarks/mmsegmentation/train.py CONFIG \
        --pretrained BACKBONE.pth [--data-root DIR] [--work-dir DIR] [--cfg-options k=v ...]

Usually started by tools/benchmarks/mmsegmentation/dist_train.sh, which converts a selfemb
checkpoint first. CONFIG:
configs/benchmarks/mmsegmentation/voc12aug/fcn_r50-d8_20k_voc12aug.py (see docs/transfer.md).
"""
from selfemb.transfer.downstream import benchmark_main

if __name__ == '__main__':
    benchmark_main('mmsegmentation')
