#!/usr/bin/env bash
# The ImageNet input-path figures of docs/benchmarks.md in one run (about 6 minutes on an
# H100 node): a synthetic JPEG tree, then CPU workers vs the GPU path side by side, and the
# GPU path with torchvision's decoder forced. JSON records go to $OUT (default
# work_dirs/gpu_figures). NVIDIA DALI is used where installed (pip install -e '.[dali]').
#   bash scripts/gpu_figures_input.sh            # on the GPU machine
#   QUICK=1 bash scripts/gpu_figures_input.sh    # a few tiny steps, to check the script (CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT:-work_dirs/gpu_figures}
DATA=${DATA:-/tmp/selfemb_synthetic_in}
mkdir -p "$OUT"
if [ -n "${QUICK:-}" ]; then
  TREE=(--classes 2 --train-per-class 4 --val-per-class 1)
  RUN=(--workers 0 --batch-size 2 --iters 1 --warmup 0 --repeats 2)
  CFG=(model.backbone.depth=18 model.neck.in_channels=512 model.group_head.num_groups=2
       model.instance_head.num_negatives=4)
  LIMIT=600
else
  TREE=(--classes 100 --train-per-class 40 --val-per-class 1)
  RUN=(--workers "${WORKERS:-8}" --batch-size 256 --iters 10 --warmup 3 --repeats 3 --amp
       --channels-last)
  CFG=(env_cfg.cudnn_benchmark=True)
  LIMIT=240
fi
[ -f "$DATA/meta/train.txt" ] || "$PY" tools/dataset_converters/make_synthetic_jpegs.py "$DATA" "${TREE[@]}"
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"
"$PY" -c "import nvidia.dali" 2>/dev/null && echo "DALI: installed" || echo "DALI: not installed (GPU path decodes with torchvision)"
timeout "$LIMIT" "$PY" tools/analysis/benchmark_input.py --data-root "$DATA" \
  --input configs/cld/r50_in100.py configs/cld/r50_in100_gpu.py "${RUN[@]}" --cfg-options "${CFG[@]}" \
  | tee "$OUT/input_cpu_vs_gpu.log"
tail -n 1 "$OUT/input_cpu_vs_gpu.log" > "$OUT/input_cpu_vs_gpu.json"
timeout "$LIMIT" "$PY" tools/analysis/benchmark_input.py --data-root "$DATA" \
  --input configs/cld/r50_in100_gpu.py "${RUN[@]}" \
  --cfg-options "${CFG[@]}" data_preprocessor.decoder=torchvision \
  | tee "$OUT/input_gpu_torchvision.log"
tail -n 1 "$OUT/input_gpu_torchvision.log" > "$OUT/input_gpu_torchvision.json"
echo "figures in $OUT"
