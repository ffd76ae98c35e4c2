#!/usr/bin/env bash
# Linear probe / semi-supervised fine-tuning of a selfemb checkpoint:
#   bash tools/benchmarks/classification/train_linear.sh CONFIG CHECKPOINT GPUS [train.py args]
# e.g. bash tools/benchmarks/classification/train_linear.sh \
#        configs/benchmarks/linear/r18_fmnist.py work_dirs/isif_r18_fmnist/epoch_20.pth 1
# The checkpoint initialises model.backbone (keys 'backbone.*'); the run goes to
# work_dirs/<config name>_<checkpoint name>. More config overrides: CFG_OPTIONS="k=v k=v".
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/train.py arguments]" >&2
  exit 1
fi
CONFIG=$1
CKPT=$2
GPUS=$3
shift 3
[ -f "$CKPT" ] || { echo "checkpoint not found: $CKPT" >&2; exit 1; }
WORK_DIR=work_dirs/$(basename "${CONFIG%.py}")_$(basename "${CKPT%.pth}")
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
if [ "$GPUS" -gt 1 ]; then
  bash "$ROOT/tools/dist_train.sh" "$CONFIG" "$GPUS" --work-dir "$WORK_DIR" "$@" \
    --cfg-options model.backbone.init_cfg.checkpoint="$CKPT" ${CFG_OPTIONS:-}
else
  PYTHONPATH="$ROOT:${PYTHONPATH:-}" "${PYTHON:-python}" "$ROOT/tools/train.py" "$CONFIG" --work-dir "$WORK_DIR" "$@" \
    --cfg-options model.backbone.init_cfg.checkpoint="$CKPT" ${CFG_OPTIONS:-}
fi
