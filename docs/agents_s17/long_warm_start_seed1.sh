#!/bin/bash
# Session 17, started at its end (not yet measured): the same as long_warm_start.sh with
# agent_train.seed=1 and 500-chain evaluations on 2 workers.
# Session 17: does DITTO's gain over a matched BC control (session 13: +0.17 / +0.22 from a
# 1200-batch warm start) survive a warm start 3.3x longer? LUMOS (today's CPU recipe, masked
# negatives) trained by BC for 4000 batches at 1e-3, then continued 340 batches either by DITTO
# at 3e-5 (LUMOS's schedule) or by BC at 3e-5 (the fair no-DITTO control).
source /work/main/.venv/bin/activate
cd /work/main
export OMP_NUM_THREADS=1
R="--preset state --set agent.reward_norm=start --set agent.history_free_prob=0.1 --set agent.ditto_bc_scale=1.0 --set agent.actor_latent=h --set agent.return_norm=percentile --set agent_train.ditto_lr=0.00003 --set agent.align_mask_same_task=true --features runs/bench16/features --set agent_train.checkpoint_every=10000000 --set agent_train.seed=1"
echo "== warm $(date)"
lumos train-agent $R --set agent.bc_warmup=4000 --set agent_train.actor_lr=0.001 --set agent_train.steps=4000 --out runs/s17/s1_w4000 > runs/s17/s1_w4000.log 2>&1
for d in ditto bc; do mkdir -p runs/s17/s1_$d && cp -r runs/s17/s1_w4000/checkpoints runs/s17/s1_$d/; done
echo "== continue $(date)"
lumos train-agent $R --set agent.bc_warmup=4000 --set agent_train.actor_lr=0.001 --set agent_train.steps=4340 --out runs/s17/s1_ditto --resume > runs/s17/s1_ditto.log 2>&1 &
lumos train-agent $R --set agent.bc_warmup=4340 --set agent_train.actor_lr=0.00003 --set agent_train.steps=4340 --out runs/s17/s1_bc --resume > runs/s17/s1_bc.log 2>&1
wait
echo "== eval $(date)"
lumos evaluate --policy runs/s17/s1_ditto/checkpoints/step_00004340 --chains 500 --seeds 0 --workers 2 --out runs/s17/s1_eval_ditto --resume > runs/s17/s1_eval_ditto.log 2>&1
lumos evaluate --policy runs/s17/s1_bc/checkpoints/step_00004340 --chains 500 --seeds 0 --workers 2 --out runs/s17/s1_eval_bc --resume > runs/s17/s1_eval_bc.log 2>&1
lumos evaluate --policy runs/s17/s1_w4000/checkpoints/step_00004000 --chains 500 --seeds 0 --workers 2 --out runs/s17/s1_eval_w4000 --resume > runs/s17/s1_eval_w4000.log 2>&1
echo "== done $(date)"
