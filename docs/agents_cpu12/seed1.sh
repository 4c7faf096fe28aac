#!/bin/bash
source /work/main/.venv/bin/activate
cd /work/main
export OMP_NUM_THREADS=1
R="--preset state --set agent.reward_norm=start --set agent.history_free_prob=0.1 --set agent.ditto_bc_scale=1.0 --set agent.actor_latent=h --set agent.return_norm=percentile --set agent_train.ditto_lr=0.00003 --features runs/bench12/features --set agent_train.checkpoint_every=10000000 --set agent_train.seed=1"
echo "== warm $(date)"
lumos train-agent $R --set agent.bc_warmup=1200 --set agent_train.actor_lr=0.001 --set agent_train.steps=1200 --out runs/s13/s1_w1200 > runs/s13/s1_w1200.log 2>&1
for d in s1_ditto s1_bc; do mkdir -p runs/s13/$d && cp -r runs/s13/s1_w1200/checkpoints runs/s13/$d/; done
echo "== continue $(date)"
lumos train-agent $R --set agent.bc_warmup=1200 --set agent_train.actor_lr=0.001 --set agent_train.steps=1540 --out runs/s13/s1_ditto --resume > runs/s13/s1_ditto.log 2>&1 &
lumos train-agent $R --set agent.bc_warmup=1540 --set agent_train.actor_lr=0.00003 --set agent_train.steps=1540 --out runs/s13/s1_bc --resume > runs/s13/s1_bc.log 2>&1
wait
echo "== eval $(date)"
lumos evaluate --policy runs/s13/s1_ditto/checkpoints/step_00001540 --chains 300 --seeds 0 --workers 1 --out runs/s13/eval_s1_ditto --resume > runs/s13/eval_s1_ditto.log 2>&1 &
lumos evaluate --policy runs/s13/s1_bc/checkpoints/step_00001540 --chains 300 --seeds 0 --workers 1 --out runs/s13/eval_s1_bc --resume > runs/s13/eval_s1_bc.log 2>&1
wait
echo "== done $(date)"
