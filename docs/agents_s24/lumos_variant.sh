#!/bin/bash
# usage: bash docs/agents_s24/lumos_variant.sh OUT SEED [--set KEY=VALUE ...]
# The no-DITTO LUMOS of docs/agents_s23/lumos_rel.sh (decoded actor with the block geometry,
# language windows only, plans and the masked alignment loss, 13 232 BC batches at 1e-3, then
# 1 000 BC batches at 3e-5 into OUT_bc) with extra settings appended, e.g.
# --set agent.plan_input=probs or --set agent.use_alignment=false. With DITTO=1 in the
# environment, also 1 000 DITTO batches (the exact objective, H = 8, BC term x100; session 22)
# from the same warm start into OUT_ditto, beside OUT_bc.
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
out=$1
seed=$2
shift 2
base="--preset state --set agent.method=lumos --set agent.image_goals=false \
 --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
 --set agent.relative_inputs=true --set agent_train.seed=$seed \
 --set agent.align_mask_same_task=true --set agent.reward_norm=start \
 --set agent.ditto_bc_scale=100 --set agent.return_norm=percentile \
 --set agent.reward_target=imagined --set agent.imagine_noise=common \
 --set agent.imagine_action=mean --set agent.bootstrap=none --set agent.horizon=8 \
 --set agent_train.ditto_lr=0.00003 --features runs/f5/features $*"
if [ ! -d "$out/checkpoints/step_00013232" ]; then   # (a finished warm-up is kept)
  lumos train-agent $base --set agent.bc_warmup=13232 --set agent_train.actor_lr=0.001 \
    --set agent_train.steps=13232 --set agent_train.checkpoint_every=2000 \
    --out "$out" > "$out.log" 2>&1
fi
runs="bc"
[ "${DITTO:-0}" = 1 ] && runs="bc ditto"
more="--set agent_train.steps=14232 --set agent_train.checkpoint_every=500 --resume"
for r in $runs; do
  mkdir -p "${out}_$r/checkpoints" && cp -r "$out/checkpoints/step_00013232" "${out}_$r/checkpoints/"
done
lumos train-agent $base $more --set agent.bc_warmup=14232 --set agent_train.actor_lr=0.00003 \
  --out "${out}_bc" > "${out}_bc.log" 2>&1 &
if [ "${DITTO:-0}" = 1 ]; then
  lumos train-agent $base $more --set agent.bc_warmup=13232 --set agent_train.actor_lr=0.001 \
    --out "${out}_ditto" > "${out}_ditto.log" 2>&1 &
fi
wait
