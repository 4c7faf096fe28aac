#!/bin/bash
# LUMOS given the shipped GCBC's recipe (decoded actor, language windows only, 13 232 BC
# batches at 1e-3; 41 min on one core beside other jobs), with plans and the masked alignment
# loss; then continued like the shipped GCBC by 1 000 batches at 3e-5 of BC (LUMOS without
# DITTO) or of DITTO (the exact objective, H = 8, with its BC term: LUMOS), each from a copy
# of the warm start. The GCBC beside it: gcbc_ship2.sh.
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
base="--preset state --set agent.method=lumos --set agent.image_goals=false \
 --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
 --set agent.align_mask_same_task=true --set agent.reward_norm=start \
 --set agent.ditto_bc_scale=1.0 --set agent.return_norm=percentile \
 --set agent.reward_target=imagined --set agent.imagine_noise=common \
 --set agent.imagine_action=mean --set agent.bootstrap=none --set agent.horizon=8 \
 --set agent_train.ditto_lr=0.00003 --features runs/f5/features"
lumos train-agent $base --set agent.bc_warmup=13232 --set agent_train.actor_lr=0.001 \
  --set agent_train.steps=13232 --set agent_train.checkpoint_every=2000 \
  --out runs/s22/lumos_ship
W=runs/s22/lumos_ship/checkpoints/step_00013232
for r in lumos_ship_bc lumos_ship_ditto; do
  mkdir -p runs/s22/$r/checkpoints && cp -r $W runs/s22/$r/checkpoints/
done
more="--set agent_train.steps=14232 --set agent_train.checkpoint_every=500 --resume"
lumos train-agent $base $more --set agent.bc_warmup=14232 --set agent_train.actor_lr=0.00003 \
  --out runs/s22/lumos_ship_bc > runs/s22/lumos_ship_bc.log 2>&1 &
lumos train-agent $base $more --set agent.bc_warmup=13232 --set agent_train.actor_lr=0.001 \
  --out runs/s22/lumos_ship_ditto > runs/s22/lumos_ship_ditto.log 2>&1 &
wait
for r in lumos_ship_bc lumos_ship_ditto; do
  lumos evaluate --policy runs/s22/$r/checkpoints/step_00014232 --chains 300 --seeds 0 \
    --workers 2 --out runs/s22/eval_$r
done
