#!/bin/bash
# usage: bash docs/agents_s25/table1_s2.sh
# Table I with the session-23/24 recipe (docs/agents_s24/lumos_variant.sh: decoded actor with
# the block geometry, language windows only, 13 232 BC batches at 1e-3, then 1 000 batches at
# 3e-5 of BC or of DITTO with the BC term x100) on training seed 2, the seed of the shipped
# GCBC (checkpoints/policy_state_demo: the same recipe without plans). Two lanes, one core
# each; every policy evaluated on chains 0-299 (grounded, evaluation paraphrases) into
# runs/s25/eval_<name>.
#   lane A: LUMOS (+ its no-DITTO control), then the plan KL at HULC's weight 0.01
#   lane B: no alignment (+ its BC control: MCIL's objective), then no latent plan
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
mkdir -p runs/s25
v=docs/agents_s24/lumos_variant.sh
ev() {   # ev NAME CHECKPOINT
  [ -f "runs/s25/eval_$1/results.md" ] || lumos evaluate --policy "$2" --chains 300 --seeds 0 \
    --workers 1 --out "runs/s25/eval_$1" > "runs/s25/eval_$1.log" 2>&1
}
(
  DITTO=1 bash $v runs/s25/lumos 2
  ev lumos runs/s25/lumos_ditto/checkpoints/step_00014232
  ev lumos_bc runs/s25/lumos_bc/checkpoints/step_00014232
  bash $v runs/s25/kl001 2 --set agent.kl_scale=0.01
  ev kl001_bc runs/s25/kl001_bc/checkpoints/step_00014232
) &
(
  DITTO=1 bash $v runs/s25/noalign 2 --set agent.use_alignment=false
  ev noalign runs/s25/noalign_ditto/checkpoints/step_00014232
  ev noalign_bc runs/s25/noalign_bc/checkpoints/step_00014232
  DITTO=1 bash $v runs/s25/noplan 2 --set agent.use_plan=false
  ev noplan runs/s25/noplan_ditto/checkpoints/step_00014232
  ev shipped checkpoints/policy_state_demo
) &
wait
