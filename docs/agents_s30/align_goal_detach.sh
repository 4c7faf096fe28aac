#!/bin/bash
# Session 30: LUMOS with the alignment loss kept off the actor's goal embedding
# (agent.align_goal_grad=false), otherwise Table I's `long` LUMOS row exactly (the same
# training command as runs/tab30 / runs/tab28b's LUMOS rows plus the switch), training seeds
# 2 and 42 side by side (one core each), then chains 0-199 of each, paired with the Table I
# LUMOS and GCBC rows of the same seed.
# Usage (from the repository root, features of data/sim_play5 in runs/f5/features):
#     bash docs/agents_s30/align_goal_detach.sh
set -e
L=$(python -c "from lumos_core.benchmarks.agents import LONG_RECIPE as R; print(' '.join(R))")
sets=""
for o in $L agent.align_goal_grad=false; do sets="$sets --set $o"; done
for seed in 2 42; do
    OMP_NUM_THREADS=1 lumos train-agent --preset state $sets --set agent_train.seed=$seed \
        --features runs/f5/features --set agent_train.steps=14232 \
        --set agent_train.checkpoint_every=10000000 --out runs/s30/ag_s$seed \
        > runs/s30/ag_s$seed.log 2>&1 &
done
wait
for seed in 2 42; do
    OMP_NUM_THREADS=1 lumos evaluate --policy runs/s30/ag_s$seed/checkpoints/step_00014232 \
        --chains 200 --seeds 0 --workers 1 --out runs/s30/eval_ag_s$seed \
        > runs/s30/eval_ag_s$seed.log 2>&1 &
done
wait
run() { [ "$1" = 2 ] && echo runs/tab30 || echo runs/tab28b; }
for seed in 2 42; do
    lumos compare $(run $seed)/eval/lumos runs/s30/eval_ag_s$seed $(run $seed)/eval/gcbc \
        --names "LUMOS seed $seed" "LUMOS, align_goal_grad=false" "GCBC seed $seed" \
        --out docs/agents_s30/align_goal_detach_s$seed.md
done
