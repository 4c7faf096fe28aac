#!/bin/bash
# Session 15: the alignment suspicion, second training seed. LUMOS seed 1 exists
# (runs/s13/s1_ditto step 1540: 1200 BC + 340 DITTO); train "no alignment" with the same seed
# and schedule, evaluate both grounded on chains 0-199 (seed 0: runs/s14/t1g_*).
source /work/main/.venv/bin/activate
cd /work/main
export OMP_NUM_THREADS=1
R="--preset state --set agent.reward_norm=start --set agent.history_free_prob=0.1 --set agent.ditto_bc_scale=1.0 --set agent.actor_latent=h --set agent.return_norm=percentile --set agent_train.ditto_lr=0.00003 --features runs/bench12/features --set agent_train.checkpoint_every=10000000 --set agent_train.seed=1"
echo "== train $(date)"
lumos train-agent $R --set agent.use_alignment=false --set agent.bc_warmup=1200 --set agent_train.actor_lr=0.001 --set agent_train.steps=1540 --out runs/s15/s1_noalign > runs/s15/s1_noalign.log 2>&1 &
lumos evaluate --policy runs/s13/s1_ditto/checkpoints/step_00001540 --chains 200 --seeds 0 --workers 1 --out runs/s15/t1g_s1_lumos --resume > runs/s15/t1g_s1_lumos.log 2>&1
wait
echo "== eval $(date)"
lumos evaluate --policy runs/s15/s1_noalign/checkpoints/step_00001540 --chains 200 --seeds 0 --workers 2 --out runs/s15/t1g_s1_noalign --resume > runs/s15/t1g_s1_noalign.log 2>&1
echo "== done $(date)"
# the fair no-DITTO ablation (session 13's BC controls: LUMOS's own warm start + 340 BC batches
# at DITTO's rate), seeds 0 and 1, grounded on the same chains
for pair in "bc_lowlr s0_fair_noditto" "s1_bc s1_fair_noditto"; do set -- $pair
lumos evaluate --policy runs/s13/$1/checkpoints/step_00001540 --chains 200 --seeds 0 --workers 2 --out runs/s15/t1g_$2 --resume > runs/s15/t1g_$2.log 2>&1
done
echo "== all done $(date)"
