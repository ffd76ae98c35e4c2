#!/usr/bin/env bash
# Every method's Fashion-MNIST recipe at full size on one GPU, and ONE table: weighted-kNN
# top-1 per epoch (recomputed references, k 200, sigma 0.1; for NPID / AND / Super-AND also
# the papers' memory-bank protocol in the same training), seconds per epoch, the device;
# plus ISIF's downstream figures (linear probe on the 60,000 labelled images, unseen-class
# Recall@K / NMI) beside the untrained network.
#
#   scripts/reproduce_fmnist.sh [WORK_ROOT]                (default work_dirs/fmnist)
#   PART=1 scripts/reproduce_fmnist.sh; PART=2 scripts/reproduce_fmnist.sh   (two calls)
#   QUICK=1 scripts/reproduce_fmnist.sh work_dirs/fmnist_quick   (CPU rehearsal, minutes)
#
# Runs (names -> config + options: the RUN_* tables below): isif npid and super_and cld
# cld_release cldm interclr uic, and "downstream" (ISIF's probe and unseen-class stage,
# chained after isif when both are in RUNS). PART=1 / PART=2 pick a half each, balanced by
# estimated work (below); each part fits one device call of 10 minutes if the GPU keeps
# about 25,000 augmented 32x32 views/s over the concurrent runs (docs/benchmarks.md).
#
# Environment:
#   RUNS     runs to do (default: PART's, else all); an unknown name is an error
#   PART     1 or 2: the runs of that half (see PART_1 / PART_2)
#   LIMIT    seconds for the trainings of this call (default 540 with PART, none without):
#            one `timeout` over them all, so the call returns what it has; a run killed by
#            it resumes from its last epoch (checkpoints every epoch) when called again
#   JOBS     runs at once (default: all of the call's on a GPU, 1 on CPU, 2 with QUICK)
#   GRAPH_RUNS  runs trained with the whole step as one CUDA graph (--cuda-graph; default
#            the graph-ready ones: all but interclr; on CPU the static step runs
#            eagerly instead, cuda_graph.enable=True)
#   ARGS     extra tools/train.py arguments (default: --amp --channels-last on a GPU,
#            --channels-last on CPU)
#   OPTS     extra --cfg-options for every training
#   DATA_ROOT  Fashion-MNIST folder (default: the configs' /usr/share/datasets/fashion-mnist;
#            a lent GPU machine has no internet: copy the four .gz files into the checkout,
#            e.g. data/fashion-mnist, carry that path and set DATA_ROOT=data/fashion-mnist)
#   TRAIN_SUBSET / TEST_SUBSET  the first N training images (trained on, kNN references)
#            / test images (kNN queries)
#   QUICK=1  CPU rehearsal of the same commands (checks the script, not a figure):
#            TRAIN_SUBSET 128, TEST_SUBSET 64, 2 epochs of batch 32 (AND / Super-AND: 2
#            rounds of 1 epoch), kNN k 10, 8 CLD groups, InterCLR's clusters and negatives
#            scaled down; the probes 1 epoch on the subsets
#   EXPORT   folder that receives a copy of everything but the checkpoints at the end
#            (e.g. $OUT on a lent machine)
# A run whose work dir holds a checkpoint is resumed; a finished one is left as it is.
# Logs: WORK_ROOT/<run>.log; table: WORK_ROOT/table.md and .json (all runs of the root).
set -uo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's selfemb
VENV=${VENV:-.venv}
PY=${PYTHON:-$VENV/bin/python}
ROOT=${1:-work_dirs/fmnist}
QUICK=${QUICK:-0}
PART=${PART:-}

# ---- runs: config, options, graph-readiness (the one place to change them) -------------
# Work estimate, in 60,000-image passes of one 32x32 view through one ResNet-18 trunk
# (views x trunks x epochs; key encoders and forward-only probes counted at ~1/3):
#   isif 2x20=40  npid 1x20=20  and 1x30=30  super_and 2x2x30=120 (two trunks, two views)
#   cld 2x20=40  cld_release 40  cldm 3x20 + keys = ~70  interclr 2x20 + keys = ~50
#   uic 1x20=20  downstream: unseen run 2x20x0.5=20 + two 30-epoch probes ~2x10 = ~40
# PART_1 = 220 and PART_2 = 250 units; the kNN passes (70,000 images per monitor and
# epoch, ~200 evaluations) add ~15 %.
PART_1="isif downstream super_and npid"
PART_2="and cld cld_release cldm interclr uic"
declare -A RUN_CONFIG=(
  [isif]=configs/isif/r18_fmnist.py [npid]=configs/npid/r18_fmnist.py
  [and]=configs/and/r18_fmnist.py [super_and]=configs/super_and/r18_fmnist.py
  [cld]=configs/cld/r18_fmnist.py [cld_release]=configs/cld/r18_fmnist.py
  [cldm]=configs/cld/r18_fmnist_moco.py [interclr]=configs/interclr/r18_fmnist.py
  [uic]=configs/uic/r18_fmnist.py)
BANK="custom_hooks.knn_bank._delete_=True custom_hooks.knn_bank.type=KNNEvalHook"
BANK="$BANK custom_hooks.knn_bank.reference=bank custom_hooks.knn_bank.prefix=knn_bank"
BANK="$BANK custom_hooks.knn_bank.train_dataloader=None custom_hooks.knn_bank.interval=1"
BANK="$BANK custom_hooks.knn_bank.val_dataloader=knn_val_dataloader"
BANK="$BANK custom_hooks.knn_bank.k=200 custom_hooks.knn_bank.temperature=0.1"
declare -A RUN_OPTS=(
  [isif]="custom_hooks.knn.eval_initial=True"  # the untrained network's kNN as epoch 0
  [npid]="$BANK" [and]="$BANK" [super_and]="$BANK"
  [cld_release]="model.group_head.centroids=release model.bank_update=release")
GRAPH_RUNS=${GRAPH_RUNS:-isif npid and super_and cld cld_release cldm uic}
ISIF_EPOCHS=20  # configs/isif/r18_fmnist.py; its last checkpoint feeds the downstream stage

if [ -n "$PART" ]; then
  case $PART in
    1) DEFAULT_RUNS=$PART_1 ;;
    2) DEFAULT_RUNS=$PART_2 ;;
    *) echo "reproduce_fmnist: PART must be 1 or 2, got '$PART'" >&2; exit 2 ;;
  esac
  LIMIT=${LIMIT:-540}
else
  DEFAULT_RUNS="$PART_1 $PART_2"
  LIMIT=${LIMIT:-0}
fi
RUNS=${RUNS:-$DEFAULT_RUNS}
for r in $RUNS; do
  [ "$r" = downstream ] || [ -n "${RUN_CONFIG[$r]:-}" ] || {
    echo "reproduce_fmnist: unknown run '$r' (known: ${!RUN_CONFIG[*]} downstream)" >&2; exit 2; }
done

GPU=${REPRODUCE_FMNIST_GPU:-$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))')} \
  || exit 2
if [ -z "${ARGS+x}" ]; then
  ARGS="--channels-last"
  [ "$GPU" = 1 ] && ARGS="--amp --channels-last"
fi
NRUNS=$(wc -w <<< "$RUNS")
if [ "$GPU" = 1 ]; then JOBS=${JOBS:-$NRUNS}; elif [ "$QUICK" = 1 ]; then JOBS=${JOBS:-2}; else
  JOBS=${JOBS:-1}; fi

# every training: a checkpoint per epoch (a cut run loses at most one), each epoch's last
# iteration logged (the table's iterations per epoch)
OPTS=${OPTS:-}
COMMON="default_hooks.checkpoint.interval=1 default_hooks.logger.ignore_last=False"
DATA_OPTS=""
if [ -n "${DATA_ROOT:-}" ]; then
  for loader in train_dataloader knn_train_dataloader knn_val_dataloader; do
    DATA_OPTS="$DATA_OPTS $loader.dataset.data_root=$DATA_ROOT"
  done
fi
declare -A QUICK_OPTS=()
QUICK_TRAIN=""  # QUICK's settings of every self-supervised training (not the probes)
if [ "$QUICK" = 1 ]; then
  TRAIN_SUBSET=${TRAIN_SUBSET:-128} TEST_SUBSET=${TEST_SUBSET:-64}
  ISIF_EPOCHS=2
  QUICK_TRAIN="train_cfg.max_epochs=2 train_dataloader.batch_size=32 custom_hooks.knn.k=10"
  QUICK_OPTS[and]="param_scheduler.0.epochs_per_round=1 param_scheduler.0.milestones=[]"
  QUICK_OPTS[super_and]=${QUICK_OPTS[and]}
  for r in npid and super_and; do QUICK_OPTS[$r]="${QUICK_OPTS[$r]:-} custom_hooks.knn_bank.k=10"; done
  for r in cld cld_release cldm; do QUICK_OPTS[$r]="model.group_head.num_groups=8"; done
  QUICK_OPTS[interclr]="model.memory.num_clusters=4 model.memory.min_cluster=2"
  QUICK_OPTS[interclr]="${QUICK_OPTS[interclr]} model.num_negatives=8 model.intra_negatives=16"
fi
SUBSET_OPTS=""
if [ -n "${TRAIN_SUBSET:-}" ]; then
  SUBSET_OPTS="train_dataloader.dataset.indices=$TRAIN_SUBSET"
  SUBSET_OPTS="$SUBSET_OPTS knn_train_dataloader.dataset.indices=$TRAIN_SUBSET"
fi
[ -z "${TEST_SUBSET:-}" ] || SUBSET_OPTS="$SUBSET_OPTS knn_val_dataloader.dataset.indices=$TEST_SUBSET"
mkdir -p "$ROOT"

record() {  # WORK_DIR CONFIG GRAPH OPTIONS: run.json, what the table names the run by
  mkdir -p "$1"
  "$PY" - "$@" "$PART" "$QUICK" > "$1/run.json" <<'PYEOF'
import json, sys, time
import torch
work, config, graph, options, part, quick = sys.argv[1:7]
device = torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'
print(json.dumps(dict(config=config, cuda_graph=graph == '1', options=options, device=device,
                      torch=torch.__version__, date=time.strftime('%Y-%m-%d'),
                      part=part or None, quick=quick == '1')))
PYEOF
}

fit() {  # NAME WORK_DIR CONFIG GRAPH OPTIONS [train.py args]: train or resume, log appended
  local name=$1 work=$2 config=$3 graph=$4 opts=$5 resume=() flags=()
  shift 5
  ls "$work"/epoch_*.pth >/dev/null 2>&1 && resume=(--resume)
  if [ "$graph" = 1 ]; then
    if [ "$GPU" = 1 ]; then flags=(--cuda-graph); else opts="$opts cuda_graph.enable=True"; fi
  fi
  record "$work" "$config" "$graph" "$opts"
  echo "[reproduce_fmnist] $name: tools/train.py $config --work-dir $work ${resume[*]}" \
    "${flags[*]} $* --cfg-options $opts"
  # shellcheck disable=SC2086
  "$PY" tools/train.py "$config" --work-dir "$work" "${resume[@]}" "${flags[@]}" "$@" \
    --cfg-options $opts >>"$ROOT/$name.log" 2>&1 && { echo "[reproduce_fmnist] $name done"; return 0; }
  if tail -n 5 "$ROOT/$name.log" | grep -q 'has already finished'; then
    echo "[reproduce_fmnist] $name was already finished"; return 0
  fi
  echo "[reproduce_fmnist] $name FAILED or cut (see $ROOT/$name.log)" >&2
  return 1
}

train() {  # RUN
  local r=$1 graph=0
  [[ " $GRAPH_RUNS " == *" $r "* ]] && graph=1
  # shellcheck disable=SC2086
  fit "$r" "$ROOT/$r" "${RUN_CONFIG[$r]}" "$graph" \
    "$COMMON $QUICK_TRAIN $DATA_OPTS $SUBSET_OPTS ${RUN_OPTS[$r]:-} ${QUICK_OPTS[$r]:-} $OPTS" $ARGS
}

downstream() {  # ISIF's linear probe and unseen-class protocol, trained and untrained
  local d=$ROOT/downstream ckpt=$ROOT/isif/epoch_$ISIF_EPOCHS.pth
  [ -f "$ckpt" ] || { echo "[reproduce_fmnist] downstream: no $ckpt (ISIF unfinished)" >&2; return 1; }
  mkdir -p "$d"
  "$PY" tools/model_converters/untrained_checkpoint.py configs/isif/r18_fmnist.py \
    "$d/untrained.pth" >>"$ROOT/downstream.log" 2>&1 || return 1
  local cls="" unseen="$COMMON $QUICK_TRAIN" recall=""
  if [ -n "${DATA_ROOT:-}" ]; then
    for loader in train_dataloader val_dataloader test_dataloader; do
      cls="$cls $loader.dataset.data_root=$DATA_ROOT"
    done
    unseen="$unseen $DATA_OPTS recall_dataloader.dataset.data_root=$DATA_ROOT"
    recall="recall_dataloader.dataset.data_root=$DATA_ROOT"
  fi
  if [ "$QUICK" = 1 ]; then
    cls="$cls train_dataloader.dataset.indices=$TRAIN_SUBSET val_dataloader.dataset.indices=$TEST_SUBSET"
    cls="$cls test_dataloader.dataset.indices=$TEST_SUBSET train_cfg.max_epochs=1"
    cls="$cls param_scheduler.0.T_max=1 param_scheduler.0.end=1 train_cfg.val_interval=1"
    cls="$cls train_dataloader.num_workers=0 val_dataloader.num_workers=0"
    unseen="$unseen $SUBSET_OPTS recall_dataloader.dataset.indices=$TEST_SUBSET"
    recall="$recall recall_dataloader.dataset.indices=$TEST_SUBSET"
  fi
  local graph=0
  [[ " $GRAPH_RUNS " == *" isif "* ]] && graph=1
  local status=0 pids=() network
  for network in isif untrained; do
    local init=$ckpt
    [ "$network" = untrained ] && init=$d/untrained.pth
    fit "downstream_linear_$network" "$d/linear_$network" configs/benchmarks/linear/r18_fmnist.py \
      0 "model.backbone.init_cfg.checkpoint=$init $COMMON $cls" & pids+=($!)
  done
  (  # the unseen-class run (classes 0-4), then Recall@K / NMI on classes 5-9
    # shellcheck disable=SC2086
    fit downstream_unseen "$d/unseen" configs/isif/r18_fmnist_unseen.py "$graph" "$unseen" \
      $ARGS || exit 1
    for network in isif untrained; do
      local weights=$d/unseen/epoch_$ISIF_EPOCHS.pth
      [ "$network" = untrained ] && weights=$d/untrained.pth
      # shellcheck disable=SC2086
      "$PY" tools/benchmarks/recall_at_k.py configs/isif/r18_fmnist_unseen.py "$weights" \
        ${recall:+--cfg-options $recall} 2>>"$ROOT/downstream.log" \
        | tail -n 1 > "$d/recall_$network.json" || exit 1
      echo "[reproduce_fmnist] downstream recall ($network): $(cat "$d/recall_$network.json")"
    done
  ) & pids+=($!)
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return $status
}

job() {  # RUN: one background job; isif carries the downstream stage when both are asked
  case $1 in
    downstream) downstream ;;
    isif) train isif || return 1
          [[ " $RUNS " == *" downstream "* ]] && { downstream || return 1; }; return 0 ;;
    *) train "$1" ;;
  esac
}

run_all() {  # the call's jobs, JOBS at a time; status 1 if any failed
  local failed=0 running=0 r
  for r in $RUNS; do
    [ "$r" = downstream ] && [[ " $RUNS " == *" isif "* ]] && continue  # after isif
    job "$r" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n || failed=1; running=$((running - 1)); fi
  done
  while [ "$running" -gt 0 ]; do wait -n || failed=1; running=$((running - 1)); done
  return $failed
}

[ "${REPRODUCE_FMNIST_INNER:-0}" = 1 ] && { run_all; exit $?; }
echo "[reproduce_fmnist] runs: $RUNS; $JOBS at a time; GPU: $GPU; limit: ${LIMIT}s; root: $ROOT"
status=0
if [ "$LIMIT" -gt 0 ]; then
  # one timeout over every training of the call (its process group: all of them)
  REPRODUCE_FMNIST_INNER=1 REPRODUCE_FMNIST_GPU=$GPU timeout -k 20 "$LIMIT" bash "$SELF" "$ROOT" || status=$?
  [ "$status" = 124 ] && echo "[reproduce_fmnist] the ${LIMIT}s limit cut the call;" \
    "run it again to resume" >&2
else
  run_all || status=1
fi

"$PY" tools/analysis/fmnist_table.py "$ROOT" --out "$ROOT/table" || status=1
if [ -n "${EXPORT:-}" ]; then
  mkdir -p "$EXPORT"
  tar -C "$ROOT" --exclude='*.pth' -cf - . | tar -C "$EXPORT" -xf - \
    && echo "[reproduce_fmnist] copied $ROOT (without checkpoints) to $EXPORT"
fi
exit $status
