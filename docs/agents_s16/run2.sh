#!/bin/bash
# Session 16: same-task negatives masked, seed 0 (the second seed of runs/s16/s1_mask); starts
# when run.sh's trainings end, evaluated grounded on chains 0-199 after run.sh's evaluations.
source /work/main/.venv/bin/activate
cd /work/main
export OMP_NUM_THREADS=1
until grep -q "== eval" runs/s16/run.log; do sleep 20; done
R="--preset state --set agent.reward_norm=start --set agent.history_free_prob=0.1 --set agent.ditto_bc_scale=1.0 --set agent.actor_latent=h --set agent.return_norm=percentile --set agent_train.ditto_lr=0.00003 --features runs/bench12/features --set agent_train.checkpoint_every=10000000 --set agent.bc_warmup=1200 --set agent_train.actor_lr=0.001 --set agent_train.steps=1540"
echo "== train $(date)"
lumos train-agent $R --set agent_train.seed=0 --set agent.align_mask_same_task=true --out runs/s16/s0_mask > runs/s16/s0_mask.log 2>&1
until grep -q "== done" runs/s16/run.log; do sleep 20; done
echo "== eval $(date)"
lumos evaluate --policy runs/s16/s0_mask/checkpoints/step_00001540 --chains 200 --seeds 0 --workers 2 --out runs/s16/t1g_s0_mask --resume > runs/s16/t1g_s0_mask.log 2>&1
echo "== done $(date)"
