#!/usr/bin/env bash
# Train every method's Fashion-MNIST config (configs/<method>/r18_fmnist.py) and print their
# weighted-kNN top-1 side by side at equal epochs (the tables of docs/methods/*.md).
#
#   scripts/reproduce_fmnist.sh [WORK_ROOT]        (default work_dirs/fmnist)
#
# Environment:
#   METHODS  methods to train (default: isif npid and super_and cld interclr uic)
#   JOBS     trainings run at once (default 1; several share one GPU well: each step is small)
#   ARGS     extra tools/train.py arguments (default: --amp --channels-last on a GPU)
#   OPTS     extra --cfg-options, e.g. "train_cfg.max_epochs=2"
#   DATA_ROOT  Fashion-MNIST folder (default: the configs' /usr/share/datasets/fashion-mnist)
#   EPOCHS   epochs of the table (default: 1 5 10 15 20 25 30)
#   TRAIN_SUBSET  train on (and take kNN references from) the first N training images only
#   TEST_SUBSET   kNN queries: the first N test images only (both: a CPU-sized run)
# A run whose work dir already holds a checkpoint is resumed, not restarted.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-$VENV/bin/python}
ROOT=${1:-work_dirs/fmnist}
METHODS=${METHODS:-isif npid and super_and cld interclr uic}
JOBS=${JOBS:-1}
EPOCHS=${EPOCHS:-1 5 10 15 20 25 30}
if [ -z "${ARGS+x}" ]; then
  ARGS=""
  "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
    && ARGS="--amp --channels-last"
fi
OPTS=${OPTS:-}
if [ -n "${DATA_ROOT:-}" ]; then
  for loader in train_dataloader knn_train_dataloader knn_val_dataloader; do
    OPTS="$OPTS $loader.dataset.data_root=$DATA_ROOT"
  done
fi

if [ -n "${TRAIN_SUBSET:-}" ]; then
  OPTS="$OPTS train_dataloader.dataset.indices=$TRAIN_SUBSET"
  OPTS="$OPTS knn_train_dataloader.dataset.indices=$TRAIN_SUBSET"
fi
[ -z "${TEST_SUBSET:-}" ] || OPTS="$OPTS knn_val_dataloader.dataset.indices=$TEST_SUBSET"

for m in $METHODS; do
  [ -f "configs/$m/r18_fmnist.py" ] || { echo "reproduce_fmnist: no configs/$m/r18_fmnist.py" >&2; exit 2; }
done
mkdir -p "$ROOT"

train() {  # one method; its output goes to ROOT/<method>.log
  local m=$1 resume=()
  ls "$ROOT/$m"/epoch_*.pth >/dev/null 2>&1 && resume=(--resume)
  # shellcheck disable=SC2086
  "$PY" tools/train.py "configs/$m/r18_fmnist.py" --work-dir "$ROOT/$m" "${resume[@]}" $ARGS \
    ${OPTS:+--cfg-options $OPTS} >"$ROOT/$m.log" 2>&1 \
    && echo "[reproduce_fmnist] $m done" \
    || { echo "[reproduce_fmnist] $m FAILED (see $ROOT/$m.log)" >&2; return 1; }
}

failed=0
running=0
for m in $METHODS; do
  echo "[reproduce_fmnist] $m: python tools/train.py configs/$m/r18_fmnist.py --work-dir $ROOT/$m $ARGS"
  train "$m" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || failed=1; running=$((running - 1)); fi
done
while [ "$running" -gt 0 ]; do wait -n || failed=1; running=$((running - 1)); done

dirs=()
for m in $METHODS; do  # runs that logged at least one evaluation
  ls "$ROOT/$m"/*/vis_data/scalars.json >/dev/null 2>&1 && dirs+=("$ROOT/$m")
done
[ ${#dirs[@]} -gt 0 ] || { echo "reproduce_fmnist: no run logged a kNN evaluation" >&2; exit 1; }
# shellcheck disable=SC2086
"$PY" tools/analysis/plot_knn_curve.py "${dirs[@]}" --out "$ROOT/knn_curve.png" \
  --title 'Fashion-MNIST, weighted kNN top-1' --table $EPOCHS
exit "$failed"
