#!/bin/bash
# usage: bash docs/agents_s22/evaluate_300.sh RUN... : each run's step-400 checkpoint on chains
# 0-299 (grounded, evaluation paraphrases) into runs/s22/eval_<name of RUN>
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
for run in "$@"; do
  lumos evaluate --policy "$run/checkpoints/step_00000400" --chains 300 --seeds 0 \
    --workers 2 --out "runs/s22/eval_$(basename "$run")"
done
