#!/bin/bash
# The overshooting world model (wm_os16: the shipped policy's model + 1 000 updates with
# wm_train.overshoot=16), its features, the DITTO objective's optimum on it, and the shipped
# actor moved onto it, continued by 400 DITTO (exact objective, H = 8) or 400 BC batches.
set -e
source .venv/bin/activate
export OMP_NUM_THREADS=1
WM=runs/s22/wm_os16/checkpoints/step_00001000
F=runs/s22/f_os16/features
c=docs/agents_s22/continue_shipped.sh
# 24 min beside other jobs on the 2 cores
[ -d $WM ] || lumos train-wm --preset state --set data.dataset=data/sim_play5 \
  --set wm_train.overshoot=16 --set wm_train.steps=1000 --set wm_train.checkpoint_every=250 \
  --init-from checkpoints/policy_state_demo --out runs/s22/wm_os16
[ -d $F ] || lumos featurize $WM --dataset data/sim_play5 --out $F
for h in 8 32; do    # and with --features runs/f5/features for the shipped model
  lumos ladder ditto-optimum --features $F --set agent.reward_norm=start \
    --set agent.reward_target=imagined --set agent.horizon=$h --simulate \
    --out runs/s22/opt_os16_h$h
done
bash $c runs/s22/os16_ditto $F --other-world-model &
bash $c runs/s22/os16_bc $F --other-world-model --set agent.use_ditto=false &
wait
# does DITTO improve its own objective and the actions' real (open-loop) outcome? From the
# shipped actor on wm_os16 (one DITTO batch at 3e-5: a checkpoint of the DITTO configuration)
bash $c runs/s22/os16_start $F --other-world-model --set agent_train.steps=1
lumos ladder ditto-progress --policy runs/s22/os16_start/checkpoints/step_00000001 \
  --features $F --iterations 400 --every 100 --windows 64 --simulate --out runs/s22/progress_os16
bash docs/agents_s22/evaluate_300.sh runs/s22/os16_bc runs/s22/os16_ditto
