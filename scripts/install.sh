#!/usr/bin/env bash
# Build the selfemb environment from nothing; safe to run again (steps already done are skipped).
#   VENV=path (default .venv)   SKIP_APT=1 to skip the Fashion-MNIST Debian package.
#   WITH_DALI=1 also installs NVIDIA DALI (pip extra [dali], ~200 MB), the fast decoder of
#   the GPU JPEG input path (configs/_base_/datasets/imagenet_gpu.py); not needed otherwise.
# Order matters: torch first, then mmcv compiled against it, then the OpenMMLab packages
# (see docs/get_started.md for why one pip command cannot do it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

log() { printf '[install] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
VPY="$VENV/bin/python"

log "torch + torchvision"
$PIP install -q "torch==2.14.1" "torchvision==0.29.1"

log "build tools, numpy, opencv, mmengine"
$PIP install -q "setuptools>=77.0.3,<82" ninja psutil wheel "numpy<2" "opencv-python<4.12" "mmengine==0.10.7"

if ! $VPY -c "import mmcv._ext" 2>/dev/null; then
  log "mmcv 2.1.0 with compiled ops (a first build takes 12-17 min on 2 cores; pip caches the wheel)"
  # mmcv's setup.py forces -std=c++17 while torch>=2.10 headers need C++20: the last -std wins.
  wrap_dir=$(mktemp -d)
  printf '#!/bin/sh\nexec %s "$@" -std=gnu++20\n' "$(command -v g++ || command -v c++)" >"$wrap_dir/cxx20"
  chmod +x "$wrap_dir/cxx20"
  CXX="$wrap_dir/cxx20" MAX_JOBS=${MAX_JOBS:-2} MMCV_WITH_OPS=1 \
    $PIP install --no-build-isolation "mmcv==2.1.0"
  rm -rf "$wrap_dir"
fi
$VPY -c "import mmcv._ext" || { echo "mmcv was installed without its compiled ops" >&2; exit 1; }

log "mmpretrain, mmdet, mmsegmentation, faiss, test tools"
$PIP install -q "mmpretrain==1.2.0" "mmdet==3.3.0" "mmsegmentation==1.2.2" ftfy regex \
  "faiss-cpu==1.15.1" scipy scikit-learn matplotlib tensorboard pytest pytest-timeout \
  "ruff==0.17.6"

log "selfemb (editable)"
$PIP install -q --no-build-isolation --no-deps -e .

if [ -n "${WITH_DALI:-}" ]; then
  log "NVIDIA DALI (extra [dali])"
  $PIP install -q "nvidia-dali-cuda130>=2.4"
fi

if [ -z "${SKIP_APT:-}" ] && [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  log "Fashion-MNIST (Debian package dataset-fashion-mnist)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist) \
    || log "could not install dataset-fashion-mnist; the quickstart needs it"
fi
log "done: $($VPY -c 'import torch, mmcv, mmengine, mmpretrain; print("torch", torch.__version__, "mmcv", mmcv.__version__, "mmengine", mmengine.__version__, "mmpretrain", mmpretrain.__version__)')"
