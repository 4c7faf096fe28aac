#!/bin/bash
# usage: bash docs/agents_s25/round2.sh A|B
# Session 25's second round, one lane per core: training seed 42 of LUMOS (+ its no-DITTO
# control; lane A) and of GCBC + geometry (lane B) on chains 0-299, the no-plan run's BC
# control (GCBC's objective with LUMOS's settings, seed 2), and the seed-2 LUMOS and
# the shipped GCBC (seed 2) taken from 300 to 1 000 chains (--resume: only chains 300-999 run).
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
ev() {   # ev NAME CHECKPOINT CHAINS
  lumos evaluate --policy "$2" --chains "$3" --seeds 0 --workers 1 --resume \
    --out "runs/s25/eval_$1" > "runs/s25/eval_$1_$3.log" 2>&1
}
if [ "$1" = A ]; then
  DITTO=1 bash docs/agents_s24/lumos_variant.sh runs/s25/lumos_s42 42
  ev lumos_s42 runs/s25/lumos_s42_ditto/checkpoints/step_00014232 300
  ev lumos_s42_bc runs/s25/lumos_s42_bc/checkpoints/step_00014232 300
  ev lumos runs/s25/lumos_ditto/checkpoints/step_00014232 1000
else
  bash docs/agents_s23/gcbc_rel.sh runs/s25/gcbc_s42 42
  ev gcbc_s42 runs/s25/gcbc_s42/checkpoints/step_00014232 300
  ev noplan_bc runs/s25/noplan_bc/checkpoints/step_00014232 300
  ev shipped checkpoints/policy_state_demo 1000
fi
