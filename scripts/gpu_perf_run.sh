#!/usr/bin/env bash
# One prepared device run for issue 16 (the `device` tool): the training step's speed on a GPU.
#   1. the world model at the `paper` and `cpu` presets, batch 50 x 50 (the official batch),
#      interleaved step by step on the same batch: plain fp32, fp16 autocast eager (the former
#      CUDA default, which measured the reference 19 780 frames/s on an H100), bf16 eager, and
#      the step captured as a CUDA graph in bf16 (the default) and fp32; FLOPs per step,
#      achieved fraction of a large matmul's FLOP/s in the same run, peak memory per eager
#      path, top GPU ops, and every path's loss after CURVE (100) more steps on the same
#      batches (`lumos benchmark world-model --compare-eager --curve`);
#   2. `lumos train-wm` itself on random 64 x 64 play (scripts/random_play.py; a step's cost
#      depends on shapes, not content), `cpu` preset at 50 x 50, the same number of updates
#      with the default (captured) step and with wm_train.cuda_graph=never: the trainer's own
#      frames/s, and each run's training loss over its last logged updates (the same loss
#      within noise: the equivalence of a short training with each path);
#   3. the agent update (imagination, critic, actor) at the `state` and `cpu` presets: fp32
#      (the GPU default) and bf16 (`lumos benchmark policy --compare-eager`).
# Each stage has its own time limit, so that a stage that hangs or fails leaves the others'
# figures in $OUT/log.txt.
#
#   bash scripts/gpu_perf_run.sh [DEVICE] [STEPS]       # DEVICE cuda (default) or cpu
#
# Dry run on a CPU: PRESETS_WM=debug PRESETS_AGENT=debug BATCH="2 8" TRAIN_PRESET=debug
#   TRAIN_STEPS=40 bash scripts/gpu_perf_run.sh cpu 1
set -uo pipefail
export PYTHONUNBUFFERED=1
device=${1:-cuda}; steps=${2:-8}
out=${OUT:-/tmp/gpu_out}; mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}   # scripts/*.py import lumos_core from here
wm_presets=${PRESETS_WM:-paper cpu}
agent_presets=${PRESETS_AGENT:-state cpu}
batch=${BATCH:-50 50}
train_preset=${TRAIN_PRESET:-cpu}
train_steps=${TRAIN_STEPS:-300}
tmp=${TMPDIR:-/tmp}/lumos_perf; rm -rf "$tmp"; mkdir -p "$tmp"
{
  echo "== machine"
  (nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true)
  $py -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__,
          'cuda', torch.cuda.is_available())"
  nproc
  wm() {
    echo "== world model $1 (batch $batch)"
    # shellcheck disable=SC2086
    time timeout "$2" $py -m lumos_core.cli benchmark world-model --compare-eager \
        --device "$device" --presets "$1" --batch $batch --train-steps "$steps" \
        --curve "${CURVE:-100}"
  }
  set -- $wm_presets
  first=$1; shift
  wm "$first" "${WM_LIMIT:-200}"
  echo "== lumos train-wm, $train_preset preset, batch $batch, $train_steps updates per run"
  $py scripts/random_play.py "$tmp/data" --episodes 20 --length 200
  set -- $batch
  for graph in auto never; do
    echo "-- wm_train.cuda_graph=$graph"
    timeout "${TRAIN_LIMIT:-100}" $py -m lumos_core.cli train-wm --preset "$train_preset" \
        --device "$device" --set data.dataset="$tmp/data" --set wm_train.batch_size="$1" \
        --set wm_train.seq_len="$2" --set wm_train.steps="$train_steps" \
        --set wm_train.eval_every=100000 --set wm_train.log_every=10 \
        --set wm_train.cuda_graph=$graph --report-horizon 0 --out "$tmp/run_$graph" 2>&1 \
        | tr '\r' '\n' | grep -v "^train-wm: .*step/s" | tail -4
    $py - "$tmp/run_$graph/metrics.jsonl" <<'PY'
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if r.get("tag") == "train"]
last = rows[-5:]
print(f"training loss, mean of the last {len(last)} logged updates (to step "
      f"{last[-1]['step']}): {sum(r['loss'] for r in last) / len(last):.2f}")
PY
  done
  echo "== agent update: fp32 / bf16 ($agent_presets)"
  # shellcheck disable=SC2086
  time timeout "${AGENT_LIMIT:-60}" $py -m lumos_core.cli benchmark policy --compare-eager \
      --device "$device" --presets $agent_presets --updates "$steps"
  shift 2 2>/dev/null || true
  set -- $wm_presets; shift
  for preset in "$@"; do wm "$preset" "${WM2_LIMIT:-150}"; done
} 2>&1 | tee "$out/log.txt"
