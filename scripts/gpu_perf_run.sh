#!/usr/bin/env bash
# One prepared device run for issue 16 (the `device` tool): the training step's speed on a GPU.
#   1. the world model at the `paper` and `cpu` presets, batch 50 x 50 (the official batch), four
#      paths interleaved step by step on the same batch: plain fp32, fp16 autocast eager (the
#      former CUDA default, which measured the reference 19 780 frames/s on an H100), bf16
#      autocast (the default) and bf16 + torch.compile; FLOPs per step, achieved fraction of a
#      large matmul's FLOP/s in the same run, peak memory per eager path, top GPU ops;
#   2. the agent update (imagination, critic, actor) at the `state` and `cpu` presets, the same
#      three paths (fp32, bf16 default, bf16 + compile).
# Each stage has its own time limit, so that a stage that hangs or fails still leaves the others'
# figures in $OUT/log.txt.
#
#   bash scripts/gpu_perf_run.sh [DEVICE] [STEPS]       # DEVICE cuda (default) or cpu
#
# Dry run on a CPU (debug preset, 1 step): PRESETS_WM=debug PRESETS_AGENT=debug BATCH="2 8"
#   bash scripts/gpu_perf_run.sh cpu 1
set -uo pipefail
export PYTHONUNBUFFERED=1
device=${1:-cuda}; steps=${2:-8}
out=${OUT:-/tmp/gpu_out}; mkdir -p "$out"
py=${PYTHON:-python3}
wm_presets=${PRESETS_WM:-paper cpu}
agent_presets=${PRESETS_AGENT:-state cpu}
batch=${BATCH:-50 50}
{
  echo "== machine"
  (nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true)
  $py -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__,
          'cuda', torch.cuda.is_available())"
  nproc
  # one command per preset, each with its own limit (a table prints when its command ends):
  # the paper preset first, then the agent update, then the cpu preset
  set -- $wm_presets
  first=$1; shift
  wm() {
    echo "== world model $1: fp32 / fp16 eager / bf16 / bf16 + compile (batch $batch)"
    # shellcheck disable=SC2086
    time timeout "$2" $py -m lumos_core.cli benchmark world-model --compare-eager --compile \
        --device "$device" --presets "$1" --batch $batch --train-steps "$steps"
  }
  wm "$first" "${WM_LIMIT:-210}"
  echo "== agent update: fp32 / bf16 / bf16 + compile ($agent_presets)"
  # shellcheck disable=SC2086
  time timeout "${AGENT_LIMIT:-120}" $py -m lumos_core.cli benchmark policy --compare-eager \
      --compile --device "$device" --presets $agent_presets --updates "$steps"
  for preset in "$@"; do wm "$preset" "${WM2_LIMIT:-100}"; done
} 2>&1 | tee "$out/log.txt"
