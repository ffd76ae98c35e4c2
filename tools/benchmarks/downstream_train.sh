#!/usr/bin/env bash
# Usage: tools/benchmarks/downstream_train.sh TASK CONFIG CHECKPOINT GPUS [train.py args]
# TASK: mmdetection or mmsegmentation (tools/benchmarks/TASK/dist_train.sh call this).
# CHECKPOINT: a selfemb training checkpoint. Converts its backbone into
# WORK_DIR/backbone.pth (checked against the task's ResNet of depth TARGET_DEPTH, default
# 50 as the shipped configs, so e.g. a CIFAR ResNet-18 checkpoint fails with its missing
# and mismatched keys), then trains CONFIG from it
# with tools/benchmarks/TASK/train.py: plain python for GPUS=1, torchrun otherwise.
# WORK_DIR defaults to work_dirs/benchmarks/TASK/<config>/<checkpoint name>; pass
# --work-dir DIR among the args to change it. Multi-node: NNODES, NODE_RANK, MASTER_ADDR.
set -euo pipefail
if [[ $# -lt 4 ]]; then
    echo "usage: tools/benchmarks/<mmdetection|mmsegmentation>/dist_train.sh CONFIG CHECKPOINT GPUS [args]" >&2
    exit 2
fi
TASK=$1
CONFIG=$2
CHECKPOINT=$3
GPUS=$4
shift 4
case "$TASK" in
    mmdetection) TARGET=mmdet ;;
    mmsegmentation) TARGET=mmseg ;;
    *) echo "downstream_train.sh: TASK must be mmdetection or mmsegmentation, got '$TASK'" >&2; exit 2 ;;
esac
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON=${PYTHON:-python}
WORK_DIR="work_dirs/benchmarks/$TASK/$(basename "${CONFIG%.py}")"
WORK_DIR="$WORK_DIR/$(basename "${CHECKPOINT%.*}")"
ARGS=("$@")
for ((i = 0; i < ${#ARGS[@]}; i++)); do
    if [[ "${ARGS[$i]}" == "--work-dir" ]]; then WORK_DIR="${ARGS[$((i + 1))]}"; fi
done
mkdir -p "$WORK_DIR"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" "$PYTHON" \
    "$ROOT/tools/model_converters/extract_backbone_weights.py" "$CHECKPOINT" \
    "$WORK_DIR/backbone.pth" --target "$TARGET" --target-depth "${TARGET_DEPTH:-50}"
if [[ "$GPUS" == 1 ]]; then
    PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" \
        "$ROOT/tools/benchmarks/$TASK/train.py" "$CONFIG" \
        --pretrained "$WORK_DIR/backbone.pth" --work-dir "$WORK_DIR" "$@"
fi
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$GPUS" "$ROOT/tools/benchmarks/$TASK/train.py" "$CONFIG" \
    --pretrained "$WORK_DIR/backbone.pth" --work-dir "$WORK_DIR" --launcher pytorch "$@"
