#!/usr/bin/env bash
# Collect what selfemb needs besides torch / torchvision into one folder, for a machine
# without internet access (a cluster's compute node) whose Python may differ from this one.
#
#   scripts/wheelhouse.sh DIR [--python-version 3.12] [--skip NAME ...] [--skip-file FILE]
#                             [--train-only]
#
# DIR receives: binary wheels for the target Python (manylinux x86_64) of the OpenMMLab
# packages, faiss-cpu and their dependencies; mmcv 2.1.0's source distribution (to build
# its compiled ops on the target, where its compiler and CUDA are); and the pure-Python
# build of it, mmcv-lite (no ops: enough for training and evaluation with selfemb and
# mmpretrain, not for mmdet / mmseg models). --skip / --skip-file leave out packages the
# target already has (names, or the output of `pip freeze` / `pip list --format=freeze`
# there); then install the folder's wheels with --no-deps: `pip install --no-index
# --no-deps DIR/*.whl` (mmcv-lite included). --train-only leaves out what only the mmdet /
# mmseg transfer needs (mmdet, mmsegmentation and their own dependencies, mmcv's source
# distribution): what training, kNN, the linear probe and the benchmarks need, ~25 MB
# for a node that has numpy, scipy, opencv and matplotlib (add `--skip opencv-python`
# where it has opencv-python-headless).
#
# On the target, with torch and torchvision installed:
#   pip install --no-index --find-links DIR mmcv-lite mmengine mmpretrain faiss-cpu ftfy regex
#   pip install --no-deps -e /path/to/selfemb
# or, with the ops (mmdet / mmseg transfer), instead of mmcv-lite:
#   MMCV_WITH_OPS=1 pip install --no-build-isolation --no-index DIR/mmcv-2.1.0.tar.gz
#   pip install --no-index --find-links DIR mmdet mmsegmentation
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
[ $# -ge 1 ] || usage 2
case "$1" in -h|--help) usage 0 ;; esac
DIR=$1; shift
PYVER=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
SKIP=()
TRAIN_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --python-version) PYVER=$2; shift 2 ;;
    --train-only) TRAIN_ONLY=1; shift ;;
    --skip) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do SKIP+=("$1"); shift; done ;;
    --skip-file)
      [ -f "$2" ] || { echo "wheelhouse: --skip-file $2 does not exist" >&2; exit 2; }
      while IFS= read -r line; do
        name=${line%%[=<> @]*}; [ -n "$name" ] && [ "${name#\#}" = "$name" ] && SKIP+=("$name")
      done <"$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "wheelhouse: unknown argument $1" >&2; usage 2 ;;
  esac
done
case "$PYVER" in 3.[0-9]|3.[0-9][0-9]) ;; *) echo "wheelhouse: bad --python-version $PYVER" >&2; exit 2 ;; esac

PIP=(python3 -m pip)
# mmcv's setup.py needs setuptools<82 (pkg_resources) and wheel: the project's environment has them.
BUILD_PY=${BUILD_PYTHON:-${VENV:-.venv}/bin/python}
"$BUILD_PY" -c 'import pkg_resources, wheel' 2>/dev/null || {
  echo "wheelhouse: $BUILD_PY cannot build mmcv (needs setuptools<82 and wheel);" \
       "run 'make install' first or set BUILD_PYTHON" >&2; exit 2; }
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 any; do
  PLATFORMS+=(--platform "$p")
done
# The same pins as scripts/install.sh (numpy<2: see docs/get_started.md).
PACKAGES=("numpy<2" "mmengine==0.10.7" "mmpretrain==1.2.0" "faiss-cpu==1.15.1" ftfy regex)
[ "$TRAIN_ONLY" = 1 ] || PACKAGES+=("mmdet==3.3.0" "mmsegmentation==1.2.2")

mkdir -p "$DIR"
echo "[wheelhouse] wheels for Python $PYVER -> $DIR"
"${PIP[@]}" download -q --only-binary=:all: --python-version "$PYVER" --implementation cp \
  "${PLATFORMS[@]}" -d "$DIR" "${PACKAGES[@]}"

echo "[wheelhouse] mmcv 2.1.0: source distribution and its pure-Python build (mmcv-lite)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# --no-deps --no-binary: the sdist itself; pip does not build it when only downloading.
"$BUILD_PY" -m pip download -q --no-deps --no-binary=:all: --no-build-isolation -d "$tmp" "mmcv==2.1.0"
[ "$TRAIN_ONLY" = 1 ] || cp "$tmp"/mmcv-2.1.0.tar.gz "$DIR"/
MMCV_WITH_OPS=0 "$BUILD_PY" -m pip wheel -q --no-deps --no-build-isolation -w "$tmp/wheel" \
  "$tmp/mmcv-2.1.0.tar.gz"
cp "$tmp"/wheel/mmcv_lite-2.1.0-*.whl "$DIR"/

normalise() { printf '%s' "$1" | tr 'A-Z_.' 'a-z--'; }
removed=()
for name in "${SKIP[@]+"${SKIP[@]}"}"; do
  want=$(normalise "$name")
  for f in "$DIR"/*.whl; do
    [ -e "$f" ] || continue
    base=$(basename "$f"); dist=$(normalise "${base%%-[0-9]*}")
    if [ "$dist" = "$want" ]; then rm -f "$f"; removed+=("$base"); fi
  done
done
[ ${#removed[@]} -eq 0 ] || echo "[wheelhouse] left out (already on the target): ${removed[*]}"
echo "[wheelhouse] $(ls "$DIR" | wc -l) files, $(du -sh "$DIR" | cut -f1)"
