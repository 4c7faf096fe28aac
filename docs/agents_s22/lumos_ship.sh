#!/bin/bash
# LUMOS given the shipped GCBC's recipe (decoded actor, language windows only, 13 232 BC
# batches at 1e-3), with plans and the masked alignment loss; the DITTO phase's objective is
# the exact one (imagined target, common noise, mean actions, no critic, H = 8).
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
lumos train-agent --preset state --set agent.method=lumos --set agent.image_goals=false \
 --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
 --set agent.align_mask_same_task=true --set agent.reward_norm=start \
 --set agent.ditto_bc_scale=1.0 --set agent.return_norm=percentile \
 --set agent.reward_target=imagined --set agent.imagine_noise=common \
 --set agent.imagine_action=mean --set agent.bootstrap=none --set agent.horizon=8 \
 --set agent.bc_warmup=13232 --set agent_train.actor_lr=0.001 \
 --set agent_train.ditto_lr=0.00003 --set agent_train.steps=13232 \
 --set agent_train.checkpoint_every=2000 --features runs/f5/features --out runs/s22/lumos_ship
