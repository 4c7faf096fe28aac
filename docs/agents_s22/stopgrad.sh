#!/bin/bash
# The exact DITTO objective from the shipped policy with agent.imagine_state_grad=stop, on the
# shipped world model (runs/f5/features) and on the overshooting one (runs/s22/f_os16).
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
common="--preset state --set agent.method=lumos --set agent.use_plan=false \
 --set agent.use_alignment=false --set agent.image_goals=false \
 --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
 --set agent.reward_norm=start --set agent.ditto_bc_scale=1.0 --set agent.bc_warmup=0 \
 --set agent.reward_target=imagined --set agent.imagine_noise=common \
 --set agent.imagine_action=mean --set agent.bootstrap=none --set agent.horizon=8 \
 --set agent.imagine_gripper=binary --set agent.imagine_state_grad=stop \
 --set agent_train.actor_lr=0.00003 --set agent_train.ditto_lr=0.00003 \
 --set agent_train.steps=400 --set agent_train.checkpoint_every=200 \
 --init-from checkpoints/policy_state_demo"
lumos train-agent $common --features runs/f5/features --out runs/s22/stop_wm5 \
  > runs/s22/stop_wm5.log 2>&1 &
lumos train-agent $common --features runs/s22/f_os16/features --other-world-model \
  --out runs/s22/stop_os16 > runs/s22/stop_os16.log 2>&1 &
wait
for r in stop_wm5 stop_os16; do
  lumos evaluate --policy runs/s22/$r/checkpoints/step_00000400 --chains 300 --seeds 0 \
    --workers 2 --out runs/s22/eval_$r
done
