#!/usr/bin/env bash
# Session 35: what the ROS action_executor's settings cost the shipped policy, measured in the
# simulator's evaluation (`lumos evaluate --executor`: every action through the executor's own
# arithmetic -- limits, workspace box, gripper debouncer; the executed action conditions the
# filter). The real robot's box (config/action_executor.yaml, which `make demo` used until
# session 35) against the simulated table's files (action_executor_sim.yaml over it, what every
# sim bringup uses now), both paired with the plain evaluation's chains 0-199 (session 33's
# 1 000-chain run of the same weights, runs/s33_gcbc/eval/gcbc_s2_1000).
set -euo pipefail
export OMP_NUM_THREADS=1
policy=checkpoints/policy_state_demo
for files in robot sim; do
  lumos evaluate --policy "$policy" --chains 200 --seeds 0 --workers 2 --executor "$files" \
      --out "runs/s35_exec/$files" --resume
done
lumos compare runs/s33_gcbc/eval/gcbc_s2_1000 runs/s35_exec/sim runs/s35_exec/robot \
    --names "evaluation (the simulator's step)" "through the executor: simulated table's files" \
            "through the executor: real robot's box" --out docs/agents_s35/executor_cost.md
python docs/agents_s21/per_task.py --chains 200 "evaluation=runs/s33_gcbc/eval/gcbc_s2_1000" \
    "executor, sim files=runs/s35_exec/sim" "executor, robot box=runs/s35_exec/robot" \
    > docs/agents_s35/executor_cost_per_task.md
