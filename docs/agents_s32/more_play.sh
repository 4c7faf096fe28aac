#!/usr/bin/env bash
# Session 32: Table I's LUMOS and GCBC rows on twice the play (600 000 frames, CALVIN's D
# split has 512 000; language windows at CALVIN's density, one per ~100 frames; its first
# 270 episodes are data/sim_play5's training split), the same world model (the shipped
# policy's) and the same `long` recipe (14 232 batches), training seeds 2 and 42.
# Run from the main work tree (the features' dataset path is relative there).
set -euo pipefail
export OMP_NUM_THREADS=1
[ -e data/sim_play6/summary.json ] || lumos collect --set collect.frames=600000 \
    --set collect.episode_length=1000 --set collect.lang_density=0.01 \
    --set sim.render=false --set collect.workers=2 --out data/sim_play6
# featurized with both cores first (the benchmark reuses features of the same world model)
[ -e runs/s32_play6/features/meta.json ] || lumos featurize checkpoints/policy_state_demo \
    --dataset data/sim_play6 --out runs/s32_play6/features --threads 2
lumos benchmark agents --profile long --variants LUMOS GCBC --train-seeds 2 42 \
    --chains "${CHAINS:-1000}" --main-chains "${CHAINS:-1000}" \
    --dataset-root data/sim_play6 --world-model checkpoints/policy_state_demo \
    --out runs/s32_play6
