#!/bin/bash
# usage: bash docs/agents_s23/gcbc_rel.sh OUT SEED [more train-agent arguments]
# The shipped GCBC's recipe (docs/agents_s22/gcbc_ship2.sh: 13 232 BC batches at 1e-3, then
# 1 000 at 3e-5, decoded actor, language windows only) with the block geometry as extra input
# (agent.relative_inputs=true) and training seed SEED, on this machine's features (runs/f5).
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
out=$1
seed=$2
shift 2
args="--preset state --set agent.method=gcbc --set agent.image_goals=false \
 --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
 --set agent.relative_inputs=true --set agent_train.seed=$seed \
 --set agent_train.checkpoint_every=2000 --features runs/f5/features --out $out"
lumos train-agent $args --set agent_train.actor_lr=0.001 --set agent_train.steps=13232 "$@" \
  > "$out.log" 2>&1
lumos train-agent $args --set agent_train.actor_lr=0.00003 --set agent_train.steps=14232 \
  --resume "$@" >> "$out.log" 2>&1
