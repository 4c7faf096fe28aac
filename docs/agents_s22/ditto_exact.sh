#!/bin/bash
# DITTO with every fix of sessions 9-11 (exact objective: imagined target, common noise, mean
# actions, no critic; binary gripper; H = 8; 3e-5) from the shipped policy, and its BC control.
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
common="--preset state --set agent.method=lumos --set agent.use_plan=false \
 --set agent.use_alignment=false --set agent.image_goals=false \
 --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
 --set agent.reward_norm=start --set agent.ditto_bc_scale=1.0 --set agent.bc_warmup=0 \
 --set agent.reward_target=imagined --set agent.imagine_noise=common \
 --set agent.imagine_action=mean --set agent.bootstrap=none --set agent.horizon=8 \
 --set agent.imagine_gripper=binary \
 --set agent_train.actor_lr=0.00003 --set agent_train.ditto_lr=0.00003 \
 --features runs/f5/features --set agent_train.steps=400 \
 --set agent_train.checkpoint_every=200 --init-from checkpoints/policy_state_demo"
lumos train-agent $common --out runs/s22/ditto_h8 > runs/s22/ditto_h8.log 2>&1 &
lumos train-agent $common --set agent.use_ditto=false --out runs/s22/bc_ctl > runs/s22/bc_ctl.log 2>&1 &
wait
