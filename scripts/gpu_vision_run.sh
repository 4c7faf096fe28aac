#!/usr/bin/env bash
# One prepared device run (the `device` tool): train the `cpu` vision preset on a GPU from a
# packed dataset bundle, measure throughput of the vision presets, bring results back under $OUT.
#   bash scripts/gpu_vision_run.sh BUNDLE_DIR TRAIN_MINUTES [DEVICE]
set -euo pipefail
export PYTHONUNBUFFERED=1
bundle=$1; minutes=$2; device=${3:-cuda}
out=${OUT:-/tmp/gpu_out}; mkdir -p "$out"
py=${PYTHON:-python3}
log="$out/log.txt"
{
  echo "== machine"; (nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true)
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  echo "== unpack"; time $py scripts/pack_bundle.py unpack "$bundle" /tmp/lumos_data
  echo "== benchmark"
  $py -m lumos_core.cli benchmark world-model --device "$device" --presets ${BENCH_PRESETS:-cpu paper} \
      --train-steps 10
  echo "== train"
  $py -m lumos_core.cli train-wm --preset cpu --device "$device" --threads 8 \
      --set data.dataset=/tmp/lumos_data --set wm_train.batch_size=50 \
      --set wm_train.seq_len=50 --set wm_train.steps=1000000 --set wm_train.log_every=50 \
      --set wm_train.eval_every=500 --set wm_train.checkpoint_every=1000000 \
      --report-horizon 60 --max-minutes "$minutes" --export deploy --out /tmp/lumos_run
  echo "== open-loop report of the final model (195 steps)"
  $py -m lumos_core.cli wm-report /tmp/lumos_run/checkpoints/deploy --dataset /tmp/lumos_data \
      --horizon 195 --sequences 4 --out /tmp/lumos_report
} 2>&1 | tee "$log"
cp /tmp/lumos_run/checkpoints/deploy/model.safetensors /tmp/lumos_run/checkpoints/deploy/meta.json \
   "$out/"
cp /tmp/lumos_run/metrics.jsonl "$out/" || echo "no metrics.jsonl (fewer steps than log_every)"
cp /tmp/lumos_report/open_loop_rgb_static.png /tmp/lumos_report/open_loop_rgb_gripper.png \
   /tmp/lumos_report/open_loop_error.png /tmp/lumos_report/open_loop.json "$out/"
