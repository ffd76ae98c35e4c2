"""Train a mmdetection transfer benchmark with mmengine's Runner (the mmdet wheel
ships no tools/train.py).

    python tools/benchmarks/mmdetection/train.py CONFIG \
        --pretrained BACKBONE.pth [--data-root DIR] [--work-dir DIR] [--cfg-options k=v ...]

Usually started by tools/benchmarks/mmdetection/dist_train.sh, which converts a selfemb
checkpoint first. CONFIG:
configs/benchmarks/mmdetection/voc0712/faster-rcnn_r50-c4_24k_voc0712.py (see docs/transfer.md).
"""
from selfemb.transfer.downstream import benchmark_main

if __name__ == '__main__':
    benchmark_main('mmdetection')
