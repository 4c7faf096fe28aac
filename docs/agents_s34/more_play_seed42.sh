#!/usr/bin/env bash
# Session 34: Table I's LUMOS and GCBC rows on twice the play (data/sim_play6), the second
# training seed (42) -- session 33's docs/agents_s33/more_play_seed2.sh with --train-seeds 42,
# the two trainings at once (one process and one thread each) on session 32's CPU (AMD EPYC
# family 23, AVX2, fp32 agent). Same world model (the shipped policy's of session 23) and
# `long` recipe (14 232 batches); 200 chains each, comparable with seed 2's chains 0-199.
# Run from the main work tree after docs/agents_s32/more_play.sh collected and featurized.
set -euo pipefail
export OMP_NUM_THREADS=1
for v in lumos gcbc; do
  mkdir -p "runs/s34_$v"
  [ -e "runs/s34_$v/features" ] || cp -al runs/s32_play6/features "runs/s34_$v/features"
done
common=(--profile long --train-seeds 42 --chains 200 --main-chains 200
        --dataset-root data/sim_play6 --world-model checkpoints/policy_state_demo)
lumos benchmark agents "${common[@]}" --variants LUMOS --out runs/s34_lumos \
    > runs/s34_lumos.log 2>&1 &
lumos_pid=$!
lumos benchmark agents "${common[@]}" --variants GCBC --out runs/s34_gcbc \
    > runs/s34_gcbc.log 2>&1 &
gcbc_pid=$!
# waited for one by one, so that either run's failure stops the script
wait "$gcbc_pid"
wait "$lumos_pid"
lumos compare runs/s34_lumos/eval/lumos_s42 runs/s34_gcbc/eval/gcbc_s42 \
    --names "LUMOS, twice the play" "GCBC, twice the play" --out docs/agents_s34/more_play_s42.md
