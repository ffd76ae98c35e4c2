#!/usr/bin/env bash
# Every GPU figure of the speed yardstick (docs/benchmarks.md) in one run, each command
# under a timeout, the timeouts adding up to under 10 minutes on one H100: the
# throughput of every Fashion-MNIST config (end to end through the Runner, plain eager
# and plain CUDA-graphed loops; ISIF first), AND's discovery at 1.28M rows in bf16, and
# the bf16 discovery checked against fp32 on a 60k bank.
#
#   scripts/gpu_figures_speed.sh
#
# Environment:
#   OUT      where each command's JSON and log go (default work_dirs/gpu_figures)
#   PYTHON   interpreter (default .venv/bin/python, else python)
#   ARGS     throughput precision / layout flags (default --amp --channels-last on a GPU,
#            --channels-last without one: --amp needs a GPU)
#   CONFIGS  methods whose configs/<method>/r18_fmnist.py are timed (default: all seven)
#   DATA_ROOT  Fashion-MNIST folder (default: the configs' /usr/share/datasets/fashion-mnist)
#   QUICK=1  a CPU-sized rehearsal of the same commands: 256 training images, batch 16,
#            1 + 3 x 2 steps, fewer clusters / groups / negatives, discovery on 4,000 and
#            2,000 rows (checks the script itself, not a figure)
# Each command has its own timeout; a failed or timed-out one is reported and the others
# still run; the exit status is 1 if any failed. The summary table is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # time this checkout's selfemb
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
OUT=${OUT:-work_dirs/gpu_figures}
QUICK=${QUICK:-0}
CONFIGS=${CONFIGS:-isif npid and super_and cld interclr uic}
for m in $CONFIGS; do
  [ -f "configs/$m/r18_fmnist.py" ] || { echo "gpu_figures_speed: no configs/$m/r18_fmnist.py" >&2; exit 2; }
done
if [ -z "${ARGS+x}" ]; then
  ARGS="--channels-last"
  "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
    && ARGS="--amp --channels-last"
fi
if [ "$QUICK" = 1 ]; then
  STEPS=(--warmup 1 --iters 2 --repeats 3)
  OPTS="train_dataloader.batch_size=16 custom_hooks.knn.k=5"
  for loader in train_dataloader knn_train_dataloader; do
    OPTS="$OPTS $loader.dataset.indices=256"
  done
  OPTS="$OPTS knn_val_dataloader.dataset.indices=64"
  QUICK_cld="model.group_head.num_groups=8"
  QUICK_interclr="model.memory.num_clusters=4 model.memory.min_cluster=2"
  QUICK_interclr="$QUICK_interclr model.num_negatives=8 model.intra_negatives=16"
  BIG=4000 CHECK=2000 T_CONFIG=300 T_BIG=120 T_CHECK=120
else
  STEPS=(--warmup 10 --iters 50 --repeats 3)
  OPTS=""
  BIG=1280000 CHECK=60000 T_CONFIG=70 T_BIG=60 T_CHECK=45
fi
if [ -n "${DATA_ROOT:-}" ]; then
  for loader in train_dataloader knn_train_dataloader knn_val_dataloader; do
    OPTS="$OPTS $loader.dataset.data_root=$DATA_ROOT"
  done
fi
mkdir -p "$OUT"
failed=0
records=()

step() {  # NAME TIMEOUT ARGS...: one command, its log and JSON in OUT
  local name=$1 limit=$2
  shift 2
  echo "[gpu_figures_speed] $name: $*"
  rm -f "$OUT/$name.json"
  if timeout "$limit" "$PY" tools/benchmark.py "$@" --out "$OUT/$name.json" \
      >"$OUT/$name.log" 2>&1; then
    records+=("$OUT/$name.json")
  else
    echo "[gpu_figures_speed] $name FAILED or timed out after ${limit}s (see $OUT/$name.log)" >&2
    failed=1
  fi
}

throughput() {  # METHOD
  local m=$1 extra="QUICK_$1"
  local opts="$OPTS ${!extra:-}"
  opts=${opts# }
  # shellcheck disable=SC2086
  step "throughput_$m" "$T_CONFIG" "configs/$m/r18_fmnist.py" $ARGS "${STEPS[@]}" \
    ${opts:+--cfg-options $opts}
}

# the headline figures first, so that a slow later command cannot cost them
case " $CONFIGS " in *" isif "*) throughput isif ;; esac
step discovery_big "$T_BIG" --discovery "$BIG" --precision bf16
step discovery_check "$T_CHECK" --discovery "$CHECK" --precision bf16 --check
for m in $CONFIGS; do
  [ "$m" = isif ] || throughput "$m"
done

[ ${#records[@]} -gt 0 ] || { echo "gpu_figures_speed: no command succeeded" >&2; exit 1; }
"$PY" - "${records[@]}" <<'PYEOF'
import json, sys
from pathlib import Path

print('| record | device | views/s end to end | plain eager | plain graphed | ratio eager |'
      ' ratio graphed | discovery s | check |')
print('|---|---|---|---|---|---|---|---|---|')
for path in map(Path, sys.argv[1:]):
    r = json.loads(path.read_text())
    check = r.get('check')
    verdict = '' if not check else (
        f"{check['neighbours_differing']} neighbours / {check['anchors_differing']} anchors "
        f"differ, exact up to ties: {check['exact_up_to_ties']}")
    cells = [r.get(k) for k in ('end_to_end_views_per_s', 'plain_eager_views_per_s',
                                'plain_graphed_views_per_s', 'ratio_to_plain_eager',
                                'ratio_to_plain_graphed', 'seconds')]
    cells = ' | '.join('—' if c is None else str(c) for c in cells)
    print(f"| {path.stem} | {r['device']} | {cells} | {verdict} |")
PYEOF
exit "$failed"
