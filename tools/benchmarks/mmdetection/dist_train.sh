#!/usr/bin/env bash
# Usage: tools/benchmarks/mmdetection/dist_train.sh CONFIG CHECKPOINT GPUS [train.py args]
# Converts the selfemb CHECKPOINT's backbone (checked against mmdet's ResNet-50:
# --target-depth 50, or TARGET_DEPTH) into the work dir and
# trains CONFIG from it on GPUS processes; see tools/benchmarks/downstream_train.sh.
exec bash "$(dirname "$0")/../downstream_train.sh" mmdetection "$@"
