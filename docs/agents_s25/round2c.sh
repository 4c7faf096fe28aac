#!/bin/bash
# usage: bash docs/agents_s25/round2c.sh  (after round2.sh B, on its core)
# Training seed 42 of the no-latent-plan row (LUMOS without plans; its DITTO run), chains 0-299.
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
DITTO=1 bash docs/agents_s24/lumos_variant.sh runs/s25/noplan_s42 42 --set agent.use_plan=false
lumos evaluate --policy runs/s25/noplan_s42_ditto/checkpoints/step_00014232 --chains 300 \
  --seeds 0 --workers 1 --out runs/s25/eval_noplan_s42 > runs/s25/eval_noplan_s42.log 2>&1
