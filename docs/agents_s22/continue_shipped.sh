#!/bin/bash
# usage: bash docs/agents_s22/continue_shipped.sh OUT FEATURES [more train-agent arguments]
# The shipped policy (a GCBC) continued by 400 batches at 3e-5 of the exact DITTO objective
# with every fix of sessions 9-11 (imagined reward target, common noise, mean actions, no
# critic, binary gripper, H = 8) and its BC term at weight 1; with
# `--set agent.use_ditto=false` by BC alone (the control). Later --set override earlier ones.
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
out=$1
features=$2
shift 2
lumos train-agent --preset state --set agent.method=lumos --set agent.use_plan=false \
  --set agent.use_alignment=false --set agent.image_goals=false \
  --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
  --set agent.reward_norm=start --set agent.ditto_bc_scale=1.0 --set agent.bc_warmup=0 \
  --set agent.reward_target=imagined --set agent.imagine_noise=common \
  --set agent.imagine_action=mean --set agent.bootstrap=none --set agent.horizon=8 \
  --set agent.imagine_gripper=binary \
  --set agent_train.actor_lr=0.00003 --set agent_train.ditto_lr=0.00003 \
  --set agent_train.steps=400 --set agent_train.checkpoint_every=200 \
  --init-from checkpoints/policy_state_demo --features "$features" --out "$out" "$@" \
  > "$out.log" 2>&1
