#!/bin/bash
# The exact DITTO objective from the shipped policy with a BC term 100 times heavier.

set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
common="--preset state --set agent.method=lumos --set agent.use_plan=false \
 --set agent.use_alignment=false --set agent.image_goals=false \
 --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
 --set agent.reward_norm=start --set agent.ditto_bc_scale=100 --set agent.bc_warmup=0 \
 --set agent.reward_target=imagined --set agent.imagine_noise=common \
 --set agent.imagine_action=mean --set agent.bootstrap=none --set agent.horizon=8 \
 --set agent.imagine_gripper=binary \
 --set agent_train.actor_lr=0.00003 --set agent_train.ditto_lr=0.00003 \
 --features runs/f5/features --set agent_train.steps=400 \
 --set agent_train.checkpoint_every=200 --init-from checkpoints/policy_state_demo"
lumos train-agent $common --out runs/s22/ditto_bc100 > runs/s22/ditto_bc100.log 2>&1 &
wait
