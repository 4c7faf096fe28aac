#!/bin/bash
# Session 17: does DITTO's gain over a matched BC control (session 13: +0.17 / +0.22 from a
# 1200-batch warm start) survive a warm start 3.3x longer? LUMOS (today's CPU recipe, masked
# negatives) trained by BC for 4000 batches at 1e-3, then continued 340 batches either by DITTO
# at 3e-5 (LUMOS's schedule) or by BC at 3e-5 (the fair no-DITTO control).
# Usage: bash docs/agents_s17/long_warm_start.sh [SEED]   (default 0: runs/s17/{w4000,ditto,bc};
# another seed: runs/s17/s<SEED>_*). Seed 0's evaluations ran first as 300 / 300 / 200 chains on
# one worker beside other work and were extended to 500 with --resume (the same chains); seed 1
# was started at the session's end and is not measured. Session 18 ran seed 1 on a new machine with
# EXTRA='--set agent_train.precision=fp32' (settings appended to every training; seed 0's
# machine had no native bf16, so it trained in fp32) and runs/bench16/features linked to a
# re-featurised runs/f5/features (the same command on re-collected data).
SEED=${1:-0}
P=runs/s17/; [ "$SEED" = 0 ] || P=runs/s17/s${SEED}_
source /work/main/.venv/bin/activate
cd /work/main
export OMP_NUM_THREADS=1
R="--preset state --set agent.reward_norm=start --set agent.history_free_prob=0.1 --set agent.ditto_bc_scale=1.0 --set agent.actor_latent=h --set agent.return_norm=percentile --set agent_train.ditto_lr=0.00003 --set agent.align_mask_same_task=true --features runs/bench16/features --set agent_train.checkpoint_every=10000000 --set agent_train.seed=$SEED $EXTRA"
echo "== warm $(date)"
lumos train-agent $R --set agent.bc_warmup=4000 --set agent_train.actor_lr=0.001 --set agent_train.steps=4000 --out ${P}w4000 > ${P}w4000.log 2>&1
for d in ditto bc; do mkdir -p $P$d && cp -r ${P}w4000/checkpoints $P$d/; done
echo "== continue $(date)"
lumos train-agent $R --set agent.bc_warmup=4000 --set agent_train.actor_lr=0.001 --set agent_train.steps=4340 --out ${P}ditto --resume > ${P}ditto.log 2>&1 &
lumos train-agent $R --set agent.bc_warmup=4340 --set agent_train.actor_lr=0.00003 --set agent_train.steps=4340 --out ${P}bc --resume > ${P}bc.log 2>&1
wait
echo "== eval $(date)"
for run in ditto:00004340 bc:00004340 w4000:00004000; do
lumos evaluate --policy ${P}${run%%:*}/checkpoints/step_${run#*:} --chains 500 --seeds 0 --workers 2 --out ${P}eval_${run%%:*} --resume > ${P}eval_${run%%:*}.log 2>&1
done
echo "== done $(date)"
