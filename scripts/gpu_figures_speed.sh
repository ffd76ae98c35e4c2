#!/usr/bin/env bash
# Every GPU figure of the speed yardstick (docs/benchmarks.md) in one script, in two parts
# that each fit one call of at most 10 minutes on one H100 (every command under its own
# timeout, the timeouts of a part adding up to under 10 minutes):
#   part 1 (about 4 minutes): the headline figures: ISIF end to end with the whole step as
#     one CUDA graph and eagerly (each with both plain baselines in the same process),
#     AND's discovery at 1.28M rows in bf16, and the bf16 discovery checked against fp32
#     on a 60k bank;
#   part 2: every other Fashion-MNIST config end to end, graphed (the graph-ready methods)
#     and eagerly.
#
#   scripts/gpu_figures_speed.sh              (PARTS="1 2": both, over 10 minutes)
#   PARTS=1 scripts/gpu_figures_speed.sh      (one call each)
#
# Environment:
#   OUT      where each command's JSON and log go (default work_dirs/gpu_figures)
#   PYTHON   interpreter (default .venv/bin/python, else python)
#   PARTS    the parts to run (default "1 2")
#   ARGS     throughput precision / layout flags (default --amp --channels-last on a GPU,
#            --channels-last without one: --amp needs a GPU)
#   CONFIGS  methods timed (default: all eight; cldm is configs/cld/r18_fmnist_moco.py,
#            the others configs/<method>/r18_fmnist.py)
#   GRAPHED  those also timed with cuda_graph.enable=True (default: the graph-ready ones)
#   DATA_ROOT  Fashion-MNIST folder (default: the configs' /usr/share/datasets/fashion-mnist)
#   QUICK=1  a CPU-sized rehearsal of the same commands: 256 training images, batch 16,
#            1 + 3 x 2 steps, fewer clusters / groups / negatives, discovery on 4,000 and
#            2,000 rows (checks the script itself, not a figure; on the CPU the "graphed"
#            runs execute the static step uncaptured)
# Each command has its own timeout; a failed or timed-out one is reported and the others
# still run; the exit status is 1 if any failed. The summary table is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # time this checkout's selfemb
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
OUT=${OUT:-work_dirs/gpu_figures}
QUICK=${QUICK:-0}
PARTS=${PARTS:-1 2}
CONFIGS=${CONFIGS:-isif npid and super_and cld cldm interclr uic}
GRAPHED=${GRAPHED:-isif npid and super_and cld cldm uic}
config_of() {  # METHOD -> its Fashion-MNIST config
  if [ "$1" = cldm ]; then echo configs/cld/r18_fmnist_moco.py; else echo "configs/$1/r18_fmnist.py"; fi
}
for m in $CONFIGS $GRAPHED; do
  [ -f "$(config_of "$m")" ] || { echo "gpu_figures_speed: no $(config_of "$m")" >&2; exit 2; }
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
  QUICK_cldm="model.group_head.num_groups=8"
  QUICK_interclr="model.memory.num_clusters=4 model.memory.min_cluster=2"
  QUICK_interclr="$QUICK_interclr model.num_negatives=8 model.intra_negatives=16"
  BIG=4000 CHECK=2000 T_HEADLINE=300 T_CONFIG=300 T_BIG=120 T_CHECK=120
else
  STEPS=(--warmup 10 --iters 50 --repeats 3)
  OPTS=""
  # part 1: 2 x 70 + 60 + 45 = 245 s; part 2: 13 commands x 45 s = 585 s
  BIG=1280000 CHECK=60000 T_HEADLINE=70 T_CONFIG=45 T_BIG=60 T_CHECK=45
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

throughput() {  # METHOD TIMEOUT [graphed]: one config end to end, both plain baselines
  local m=$1 limit=$2 graphed=${3:-} extra="QUICK_$1" name="throughput_$1"
  local opts="$OPTS ${!extra:-}"
  if [ -n "$graphed" ]; then
    opts="$opts cuda_graph.enable=True"
    name="${name}_graphed"
  fi
  opts=${opts# }
  # shellcheck disable=SC2086
  step "$name" "$limit" "$(config_of "$m")" $ARGS "${STEPS[@]}" ${opts:+--cfg-options $opts}
}
listed() { [[ " $2 " == *" $1 "* ]]; }  # METHOD LIST

if listed 1 "$PARTS"; then  # the headline figures first, so a slow command cannot cost them
  listed isif "$GRAPHED" && throughput isif "$T_HEADLINE" graphed
  listed isif "$CONFIGS" && throughput isif "$T_HEADLINE"
  step discovery_big "$T_BIG" --discovery "$BIG" --precision bf16
  step discovery_check "$T_CHECK" --discovery "$CHECK" --precision bf16 --check
fi
if listed 2 "$PARTS"; then
  for m in $CONFIGS; do
    [ "$m" != isif ] || continue
    listed "$m" "$GRAPHED" && throughput "$m" "$T_CONFIG" graphed
    throughput "$m" "$T_CONFIG"
  done
fi

[ ${#records[@]} -gt 0 ] || { echo "gpu_figures_speed: no command succeeded" >&2; exit 1; }
"$PY" - "${records[@]}" <<'PYEOF'
import json, sys
from pathlib import Path

print('| record | device | views/s end to end | plain eager | plain graphed | ratio eager |'
      ' ratio graphed | graph captures / replays | discovery s | check |')
print('|---|---|---|---|---|---|---|---|---|---|')
for path in map(Path, sys.argv[1:]):
    r = json.loads(path.read_text())
    check = r.get('check')
    verdict = '' if not check else (
        f"{check['neighbours_differing']} neighbours / {check['anchors_differing']} anchors "
        f"differ, exact up to ties: {check['exact_up_to_ties']}")
    cells = [r.get(k) for k in ('end_to_end_views_per_s', 'plain_eager_views_per_s',
                                'plain_graphed_views_per_s', 'ratio_to_plain_eager',
                                'ratio_to_plain_graphed', 'seconds')]
    graph = r.get('end_to_end_cuda_graph')
    cells.insert(5, None if not graph else f"{graph['captures']} / {graph['replays']}"
                 + ('' if graph['captured_on_cuda'] else ' (uncaptured)'))
    cells = ' | '.join('—' if c is None else str(c) for c in cells)
    print(f"| {path.stem} | {r['device']} | {cells} | {verdict} |")
PYEOF
exit "$failed"
