#!/bin/bash
# usage: bash docs/agents_s23/lumos_rel.sh OUT SEED
# LUMOS given the shipped GCBC's recipe as in docs/agents_s22/lumos_ship.sh (decoded actor,
# language windows only, plans and the masked alignment loss, 13 232 BC batches at 1e-3) with
# the block geometry as extra input (agent.relative_inputs=true); then 1 000 batches at 3e-5
# from copies of that warm start: BC alone (LUMOS without DITTO) into OUT_bc, or DITTO (the
# exact objective, H = 8) with a BC term 100x the default (agent.ditto_bc_scale=100;
# session 22) into OUT_ditto.
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
out=$1
seed=$2
base="--preset state --set agent.method=lumos --set agent.image_goals=false \
 --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
 --set agent.relative_inputs=true --set agent_train.seed=$seed \
 --set agent.align_mask_same_task=true --set agent.reward_norm=start \
 --set agent.ditto_bc_scale=100 --set agent.return_norm=percentile \
 --set agent.reward_target=imagined --set agent.imagine_noise=common \
 --set agent.imagine_action=mean --set agent.bootstrap=none --set agent.horizon=8 \
 --set agent_train.ditto_lr=0.00003 --features runs/f5/features"
lumos train-agent $base --set agent.bc_warmup=13232 --set agent_train.actor_lr=0.001 \
  --set agent_train.steps=13232 --set agent_train.checkpoint_every=2000 \
  --out "$out" > "$out.log" 2>&1
W=$out/checkpoints/step_00013232
for r in bc ditto; do
  mkdir -p "${out}_$r/checkpoints" && cp -r $W "${out}_$r/checkpoints/"
done
more="--set agent_train.steps=14232 --set agent_train.checkpoint_every=500 --resume"
lumos train-agent $base $more --set agent.bc_warmup=14232 --set agent_train.actor_lr=0.00003 \
  --out "${out}_bc" > "${out}_bc.log" 2>&1 &
lumos train-agent $base $more --set agent.bc_warmup=13232 --set agent_train.actor_lr=0.001 \
  --out "${out}_ditto" > "${out}_ditto.log" 2>&1 &
wait
