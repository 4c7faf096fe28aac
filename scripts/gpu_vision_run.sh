#!/usr/bin/env bash
# One prepared device run (the `device` tool; issue 17): from a packed dataset bundle, train the
# vision world model (`cpu` preset, batch 50 x 50) on the GPU, write its curves and open-loop
# report, featurize the dataset, train LUMOS and GCBC side by side on the GPU from one --minutes
# budget (lumos benchmark agents --profile gpu; the shares are printed by its --help), and
# evaluate both on the simulator chains with the host's cores -- where pybullet is installed;
# elsewhere the run stops after training (trained.json lists the `lumos evaluate` commands to run
# on a machine with the simulator). Everything comes back under $OUT: logs, reports, curves and
# the checkpoints as a tar split into 15 MiB parts (the device tool brings back files <= 16 MB).
#
#   bash scripts/gpu_vision_run.sh BUNDLE_OR_DATASET MINUTES [DEVICE]
#   # back here: cat OUT/checkpoints.tar.part-* | tar -x -C runs/gpu_vision
#
# BUNDLE_OR_DATASET: a directory written by `python scripts/pack_bundle.py pack` (unpacked to
# $DATA_DIR first) or a dataset directory. The CPU dry run of the same pipeline at tiny size is
# test/test_benchmark_agents.py::test_vision_pipeline_dry_run; the script itself was dry-run with
#   EXTRA_ARGS="--chains 1 --main-chains 1 --workers 1" bash scripts/gpu_vision_run.sh B 0.3 cpu
set -euo pipefail
export PYTHONUNBUFFERED=1
source=$1; minutes=$2; device=${3:-cuda}
out=${OUT:-/tmp/gpu_out}; mkdir -p "$out"
py=${PYTHON:-python3}
run=${RUN_DIR:-/tmp/lumos_pipeline}
data=${DATA_DIR:-/tmp/lumos_data}
no_eval=()
if ! $py -c "import pybullet" 2>/dev/null; then no_eval=(--no-eval); fi
{
  echo "== machine"; (nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true)
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  nproc
  if [ -f "$source/training/bundle.json" ]; then
    echo "== unpack"; time $py scripts/pack_bundle.py unpack "$source" "$data"
  else
    data=$source
  fi
  [ ${#no_eval[@]} -eq 0 ] || echo "== no pybullet here: training only (evaluate the checkpoints elsewhere)"
  echo "== pipeline ($minutes min budget)"
  time $py -m lumos_core.cli benchmark agents --profile gpu --preset cpu --device "$device" \
      --variants LUMOS GCBC --dataset-root "$data" --minutes "$minutes" \
      --wm-set wm_train.batch_size=50 --wm-set wm_train.seq_len=50 \
      --wm-set wm_train.eval_every=500 --wm-set wm_train.log_every=50 \
      --out "$run" "${no_eval[@]}" ${EXTRA_ARGS:-}
} 2>&1 | tee "$out/log.txt"
cd "$run"
for f in report.md report.json trained.json success.png world_model/curves.png \
         world_model/metrics.jsonl; do
  [ -f "$f" ] && cp "$f" "$out/$(echo "$f" | tr / _)"
done
[ -d world_model/report ] && cp world_model/report/*.png world_model/report/*.json "$out/"
[ -d logs ] && tar -cf "$out/logs.tar" logs
tar -cf - world_model/checkpoints/deploy agents/*/checkpoints agents/*/metrics.jsonl \
    | split -b 15M - "$out/checkpoints.tar.part-"
ls -la "$out"
