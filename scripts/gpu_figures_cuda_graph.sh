#!/usr/bin/env bash
# GPU figures of the whole-step CUDA graph (docs/benchmarks.md, "CUDA graph step"), in one run
# of under 10 minutes on one H100:
#   1. exactness: tests/test_engine/test_cuda_graph_gpu.py (graphed run == eager run,
#      --resume of a graphed run == the uninterrupted run, the augmentation graph's warm-up
#      draws no random numbers);
#   2. configs/isif/r18_fmnist.py trained 20 epochs with --cuda-graph: kNN top-1 (the eager
#      run's: 85.6) and wall time per epoch with and without the kNN pass.
# Each part writes to $OUT (default work_dirs/gpu_figures_cuda_graph); the last line of part 2
# is its JSON record (also in $OUT/isif_graphed.json).
#
#   bash scripts/gpu_figures_cuda_graph.sh
#   QUICK=1 bash scripts/gpu_figures_cuda_graph.sh   # 1 epoch on 512 images: checks the logic;
#                                                    # without a GPU the GPU parts are skipped
#                                                    # and part 2 runs the static step eagerly
# Environment: PYTHON (default .venv/bin/python), DATA_ROOT (Fashion-MNIST folder, default the
# config's /usr/share/datasets/fashion-mnist), OUT, QUICK, PARTS (default "1 2": which parts
# to run, e.g. PARTS=2 to keep each call under a 10-minute limit), ARGS (extra
# tools/train.py arguments of part 2, e.g. "--amp --channels-last").
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's selfemb
VENV=${VENV:-.venv}
PY=${PYTHON:-$VENV/bin/python}
OUT=${OUT:-work_dirs/gpu_figures_cuda_graph}
QUICK=${QUICK:-0}
PARTS=${PARTS:-1 2}
read -r -a EXTRA <<< "${ARGS:-}"
mkdir -p "$OUT"
GPU=$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))')
EPOCHS=20
OPTIONS=()
if [ -n "${DATA_ROOT:-}" ]; then
    for loader in train_dataloader knn_train_dataloader knn_val_dataloader; do
        OPTIONS+=("$loader.dataset.data_root=$DATA_ROOT")
    done
fi
if [ "$QUICK" = 1 ]; then
    EPOCHS=1
    OPTIONS+=(train_dataloader.dataset.indices=512 knn_train_dataloader.dataset.indices=512
              knn_val_dataloader.dataset.indices=512)
fi

STATUS=0
if [[ " $PARTS " == *" 1 "* ]]; then
    echo "== 1. exactness tests (tests/test_engine/test_cuda_graph_gpu.py) =="
    timeout 480 "$PY" -m pytest -p no:cacheprovider -q -rs \
        tests/test_engine/test_cuda_graph_gpu.py | tee "$OUT/exactness.txt" \
        || { STATUS=1; echo "exactness tests FAILED (see $OUT/exactness.txt)"; }
    [ "$GPU" = 1 ] || echo "no GPU: the exactness tests are skipped (they need CUDA)"
fi
[[ " $PARTS " == *" 2 "* ]] || exit "$STATUS"

echo "== 2. ISIF r18_fmnist, $EPOCHS epoch(s), whole step as one CUDA graph =="
if [ "$GPU" = 1 ]; then
    GRAPH=(--cuda-graph)
else
    echo "no GPU: --cuda-graph is skipped; the static step runs eagerly on the CPU instead"
    [ "$QUICK" = 1 ] || { echo "without a GPU run this script with QUICK=1"; exit 0; }
    GRAPH=()
    OPTIONS+=(cuda_graph.enable=True)
fi
WORK="$OUT/isif_graphed"
rm -rf "$WORK"
start=$(date +%s.%N)
timeout 540 "$PY" tools/train.py configs/isif/r18_fmnist.py "${GRAPH[@]}" "${EXTRA[@]}" \
    --work-dir "$WORK" \
    --cfg-options train_cfg.max_epochs="$EPOCHS" "${OPTIONS[@]}" > "$OUT/isif_graphed.log" 2>&1 \
    || { tail -n 30 "$OUT/isif_graphed.log"; exit 1; }
end=$(date +%s.%N)
grep 'cuda_graph' "$OUT/isif_graphed.log" | cut -c 1-200 || true

"$PY" - "$WORK" "$start" "$end" "$EPOCHS" "$GPU" > "$OUT/isif_graphed.json" <<'EOF'
"""Summarise the run: kNN top-1, seconds per epoch with and without the kNN pass."""
import glob
import json
import statistics
import sys

work, start, end, epochs, gpu = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5] == '1'
records = [json.loads(line) for path in glob.glob(f'{work}/*/vis_data/scalars.json')
           for line in open(path)]
train = [r for r in records if 'time' in r and 'loss' in r]
knn = [r for r in records if 'knn/top1' in r]
iters = max(r['iter'] for r in train)
per_iter = statistics.mean(r['time'] for r in train)  # IterTimerHook's, window-averaged
print(json.dumps({
    'config': 'configs/isif/r18_fmnist.py', 'cuda_graph': 'captured' if gpu else 'cpu_static',
    'epochs': epochs, 'iters_per_epoch': iters // epochs,
    'knn_top1_last': knn[-1]['knn/top1'] if knn else None,
    'knn_top1_best': max(r['knn/top1'] for r in knn) if knn else None,
    'train_ms_per_iter': round(1e3 * per_iter, 3),
    'train_s_per_epoch_without_knn': round(per_iter * iters / epochs, 2),
    # the whole tools/train.py run over the epochs: start-up, checkpoints and kNN included
    'wall_s_per_epoch_with_knn': round((end - start) / epochs, 2),
}))
EOF
cat "$OUT/isif_graphed.json"
exit "$STATUS"
