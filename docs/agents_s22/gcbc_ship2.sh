#!/bin/bash
# The shipped GCBC's recipe re-trained on this machine's features (runs/f5/features), as the
# GCBC row beside runs/s22/lumos_ship: 13 232 BC batches at 1e-3, then 1 000 at 3e-5.
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
args="--preset state --set agent.method=gcbc --set agent.image_goals=false \
 --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
 --set agent_train.checkpoint_every=2000 --features runs/f5/features --out runs/s22/gcbc_ship2"
lumos train-agent $args --set agent_train.actor_lr=0.001 --set agent_train.steps=13232
lumos train-agent $args --set agent_train.actor_lr=0.00003 --set agent_train.steps=14232 --resume
