#!/usr/bin/env bash
# Usage: tools/benchmarks/mmsegmentation/dist_train.sh CONFIG CHECKPOINT GPUS [train.py args]
# (CHECKPOINT: a selfemb training checkpoint.)
# Converts the checkpoint's backbone into WORK_DIR/backbone.pth (checked against mmseg's
# backbone), then trains CONFIG from it: plain python for GPUS=1, torchrun otherwise.
# WORK_DIR defaults to work_dirs/benchmarks/mmsegmentation/<config>/<checkpoint name>; pass
# --work-dir DIR among the args to change it. Multi-node: NNODES, NODE_RANK, MASTER_ADDR.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
PYTHON=${PYTHON:-python}
WORK_DIR="work_dirs/benchmarks/mmsegmentation/$(basename "${CONFIG%.py}")"
WORK_DIR="$WORK_DIR/$(basename "${CHECKPOINT%.*}")"
ARGS=("$@")
for ((i = 0; i < ${#ARGS[@]}; i++)); do
    if [[ "${ARGS[$i]}" == "--work-dir" ]]; then WORK_DIR="${ARGS[$((i + 1))]}"; fi
done
mkdir -p "$WORK_DIR"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" "$PYTHON" \
    "$ROOT/tools/model_converters/extract_backbone_weights.py" "$CHECKPOINT" \
    "$WORK_DIR/backbone.pth" --target mmseg
if [[ "$GPUS" == 1 ]]; then
    PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" \
        "$ROOT/tools/benchmarks/mmsegmentation/train.py" "$CONFIG" \
        --pretrained "$WORK_DIR/backbone.pth" --work-dir "$WORK_DIR" "$@"
fi
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$GPUS" "$ROOT/tools/benchmarks/mmsegmentation/train.py" "$CONFIG" \
    --pretrained "$WORK_DIR/backbone.pth" --work-dir "$WORK_DIR" --launcher pytorch "$@"
