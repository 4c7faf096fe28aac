#!/bin/bash
# LUMOS seed 1 with the alignment loss at 0.3 instead of 3.0 (the BC warm-up's loss is ~0.04:
# 3 x CLIP ~ 3 dominates it), same schedule as runs/s13/s1_ditto
source /work/main/.venv/bin/activate
cd /work/main
export OMP_NUM_THREADS=1
R="--preset state --set agent.reward_norm=start --set agent.history_free_prob=0.1 --set agent.ditto_bc_scale=1.0 --set agent.actor_latent=h --set agent.return_norm=percentile --set agent_train.ditto_lr=0.00003 --features runs/bench12/features --set agent_train.checkpoint_every=10000000 --set agent_train.seed=1"
echo "== train $(date)"
lumos train-agent $R --set agent.alignment_scale=0.3 --set agent.bc_warmup=1200 --set agent_train.actor_lr=0.001 --set agent_train.steps=1540 --out runs/s15/s1_align03 > runs/s15/s1_align03.log 2>&1
echo "== eval $(date)"
lumos evaluate --policy runs/s15/s1_align03/checkpoints/step_00001540 --chains 200 --seeds 0 --workers 2 --out runs/s15/t1g_s1_align03 --resume > runs/s15/t1g_s1_align03.log 2>&1
echo "== done $(date)"
