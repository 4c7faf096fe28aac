#!/bin/bash
# Session 17: GCBC at the long LUMOS run's one-core time (4000 BC batches ~32.7 min + 340 DITTO
# batches ~7.7 min = ~40 min; GCBC runs 3.56 batches/s in Table I -> 8600 batches), Table I's
# recipe and features otherwise.
# Usage: bash docs/agents_s17/gcbc_long.sh [SEED]  (default 0: runs/s17/gcbc8600; another seed:
# runs/s17/s<SEED>_gcbc8600); EXTRA: settings appended to the training (long_warm_start.sh).
# Seed 0's evaluation ran 300 chains, extended to 500 with --resume.
SEED=${1:-0}
P=runs/s17/; [ "$SEED" = 0 ] || P=runs/s17/s${SEED}_
source /work/main/.venv/bin/activate
cd /work/main
export OMP_NUM_THREADS=1
echo "== train $(date)"
lumos train-agent --preset state --set agent.reward_norm=start --set agent.history_free_prob=0.1 --set agent.ditto_bc_scale=1.0 --set agent.actor_latent=h --set agent.bc_warmup=1200 --set agent.return_norm=percentile --set agent_train.actor_lr=0.001 --set agent_train.ditto_lr=0.00003 --set agent.align_mask_same_task=true --set agent.method=gcbc --features runs/bench16/features --set agent_train.steps=8600 --set agent_train.checkpoint_every=10000000 --set agent_train.seed=$SEED $EXTRA --out ${P}gcbc8600 > ${P}gcbc8600.log 2>&1
echo "== eval $(date)"
lumos evaluate --policy ${P}gcbc8600/checkpoints/step_00008600 --chains 500 --seeds 0 --workers 2 --out ${P}eval_gcbc8600 --resume > ${P}eval_gcbc8600.log 2>&1
echo "== done $(date)"
