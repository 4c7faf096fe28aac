#!/bin/bash
# usage: bash docs/agents_s25/round3.sh
# Training seed 42 of the no-alignment row and of its BC control (MCIL's objective: plans +
# BC), chains 0-299, the two evaluations side by side.
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
DITTO=1 bash docs/agents_s24/lumos_variant.sh runs/s25/noalign_s42 42 \
  --set agent.use_alignment=false
for r in ditto bc; do
  lumos evaluate --policy "runs/s25/noalign_s42_$r/checkpoints/step_00014232" --chains 300 \
    --seeds 0 --workers 1 --out "runs/s25/eval_noalign_s42_$r" \
    > "runs/s25/eval_noalign_s42_$r.log" 2>&1 &
done
wait
