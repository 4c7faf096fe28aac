#!/bin/bash
# The overshooting world model (wm_os16: the shipped policy's model + 1 000 updates with
# wm_train.overshoot=16): its features, the DITTO objective's optimum on them, and the shipped
# actor moved onto it, continued by 400 DITTO (exact objective, H = 8) or 400 BC batches.
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
WM=runs/s22/wm_os16/checkpoints/step_00001000
F=runs/s22/f_os16/features
# the shipped policy's world model + 1 000 updates with 16-step overshooting (24 min, beside
# other jobs on the 2 cores)
[ -d $WM ] || lumos train-wm --preset state --set data.dataset=data/sim_play5 \
  --set wm_train.overshoot=16 --set wm_train.steps=1000 --set wm_train.checkpoint_every=250 \
  --init-from checkpoints/policy_state_demo --out runs/s22/wm_os16
[ -d $F ] || lumos featurize $WM --dataset data/sim_play5 --out $F
common="--preset state --set agent.method=lumos --set agent.use_plan=false \
 --set agent.use_alignment=false --set agent.image_goals=false \
 --set agent.history_free_prob=0.1 --set agent.actor_latent=decoded \
 --set agent.reward_norm=start --set agent.ditto_bc_scale=1.0 --set agent.bc_warmup=0 \
 --set agent.reward_target=imagined --set agent.imagine_noise=common \
 --set agent.imagine_action=mean --set agent.bootstrap=none --set agent.horizon=8 \
 --set agent.imagine_gripper=binary \
 --set agent_train.actor_lr=0.00003 --set agent_train.ditto_lr=0.00003 \
 --features $F --set agent_train.steps=400 --set agent_train.checkpoint_every=200 \
 --init-from checkpoints/policy_state_demo --other-world-model"
lumos train-agent $common --out runs/s22/os16_ditto > runs/s22/os16_ditto.log 2>&1 &
lumos train-agent $common --set agent.use_ditto=false --out runs/s22/os16_bc > runs/s22/os16_bc.log 2>&1 &
lumos ladder ditto-optimum --features $F --set agent.reward_norm=start \
 --set agent.reward_target=imagined --set agent.horizon=8 --simulate --out runs/s22/opt_os16_h8 \
 > runs/s22/opt_os16_h8.log 2>&1 &
wait
lumos ladder ditto-optimum --features $F --set agent.reward_norm=start \
 --set agent.reward_target=imagined --simulate --out runs/s22/opt_os16_h32 \
 > runs/s22/opt_os16_h32.log 2>&1
# does DITTO improve its own objective and the actions' real (open-loop) outcome? From the
# shipped actor on wm_os16 (one DITTO batch at 3e-5: a checkpoint of the DITTO configuration)
lumos train-agent $common --set agent_train.steps=1 --out runs/s22/os16_start
lumos ladder ditto-progress --policy runs/s22/os16_start/checkpoints/step_00000001 \
  --features $F --iterations 400 --every 100 --windows 64 --simulate --out runs/s22/progress_os16
for r in os16_bc os16_ditto; do
  lumos evaluate --policy runs/s22/$r/checkpoints/step_00000400 --chains 300 --seeds 0 \
    --workers 2 --out runs/s22/eval_$r
done
