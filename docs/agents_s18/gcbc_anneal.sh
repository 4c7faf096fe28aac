#!/bin/bash
# Session 18: the long LUMOS runs end with 340 batches at 3e-5 (DITTO or its BC control), and
# those 340 low-rate batches alone lift the 4 000-batch warm start from 0.74 to 1.09 (session
# 17). GCBC 8 600 (gcbc_long.sh) kept 1e-3 to its end, so "LUMOS level with GCBC at equal
# time" mixes the method with the rate schedule. The matched control: GCBC 8 600 continued
# by 340 GCBC batches at 3e-5 (the BC control's schedule), on the same 500 chains.
# Usage: bash docs/agents_s18/gcbc_anneal.sh [SEED]  (after docs/agents_s17/gcbc_long.sh SEED;
# output runs/s17/[s<SEED>_]gcbc8940, eval_gcbc8940); EXTRA as in gcbc_long.sh.
SEED=${1:-0}
P=runs/s17/; [ "$SEED" = 0 ] || P=runs/s17/s${SEED}_
source /work/main/.venv/bin/activate
cd /work/main
export OMP_NUM_THREADS=1
# wait for gcbc_long.sh's training to finish (its final checkpoint written, the process gone)
while pgrep -f -- "--out ${P}gcbc8600\b" > /dev/null || [ ! -d ${P}gcbc8600/checkpoints/step_00008600 ]; do
    sleep 30
done
mkdir -p ${P}gcbc8940 && cp -r ${P}gcbc8600/checkpoints ${P}gcbc8940/
echo "== train $(date)"
lumos train-agent --preset state --set agent.reward_norm=start --set agent.history_free_prob=0.1 --set agent.ditto_bc_scale=1.0 --set agent.actor_latent=h --set agent.bc_warmup=1200 --set agent.return_norm=percentile --set agent_train.actor_lr=0.00003 --set agent_train.ditto_lr=0.00003 --set agent.align_mask_same_task=true --set agent.method=gcbc --features runs/bench16/features --set agent_train.steps=8940 --set agent_train.checkpoint_every=10000000 --set agent_train.seed=$SEED $EXTRA --out ${P}gcbc8940 --resume > ${P}gcbc8940.log 2>&1
echo "== eval $(date)"
lumos evaluate --policy ${P}gcbc8940/checkpoints/step_00008940 --chains 500 --seeds 0 --workers 2 --out ${P}eval_gcbc8940 --resume > ${P}eval_gcbc8940.log 2>&1
echo "== done $(date)"
