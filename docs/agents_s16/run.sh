#!/bin/bash
# Session 16: (A) alpha2 = 0.3 on seed 0 (seed 1 in runs/s15/s1_align03); (B) same-task
# negatives masked in the contrastive loss at the official alpha2 = 3, seed 1. Same schedule as
# Table I's LUMOS (1200 BC + 340 DITTO batches); both evaluated grounded on chains 0-199.
source /work/main/.venv/bin/activate
cd /work/main
export OMP_NUM_THREADS=1
R="--preset state --set agent.reward_norm=start --set agent.history_free_prob=0.1 --set agent.ditto_bc_scale=1.0 --set agent.actor_latent=h --set agent.return_norm=percentile --set agent_train.ditto_lr=0.00003 --features runs/bench12/features --set agent_train.checkpoint_every=10000000 --set agent.bc_warmup=1200 --set agent_train.actor_lr=0.001 --set agent_train.steps=1540"
echo "== train $(date)"
lumos train-agent $R --set agent_train.seed=0 --set agent.alignment_scale=0.3 --out runs/s16/s0_align03 > runs/s16/s0_align03.log 2>&1 &
lumos train-agent $R --set agent_train.seed=1 --set agent.align_mask_same_task=true --out runs/s16/s1_mask > runs/s16/s1_mask.log 2>&1
wait
echo "== eval $(date)"
for run in s0_align03 s1_mask; do
lumos evaluate --policy runs/s16/$run/checkpoints/step_00001540 --chains 200 --seeds 0 --workers 2 --out runs/s16/t1g_$run --resume > runs/s16/t1g_$run.log 2>&1
done
echo "== done $(date)"
