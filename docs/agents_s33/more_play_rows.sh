#!/usr/bin/env bash
# Table I's LUMOS and GCBC rows on twice the play (data/sim_play6: 600 000 frames, 5 400
# language windows at CALVIN's density) at one training seed, the two trainings at once (one
# process and one thread each), then their paired comparison -- what sessions 33 (seed 2) and
# 34 (seed 42) ran on session 32's CPU (AMD EPYC family 23, AVX2, fp32 agent). The same world
# model (the shipped policy's) and `long` recipe (14 232 batches) as Table I's rows on
# data/sim_play5; 200 chains each, comparable with those rows' chains 0-199.
#     bash docs/agents_s33/more_play_rows.sh SEED SESSION    # e.g. 2 s33: runs/s33_{lumos,gcbc}
# Run from the main work tree after docs/agents_s32/more_play.sh collected and featurized.
set -euo pipefail
seed=$1
tag=$2
export OMP_NUM_THREADS=1
for v in lumos gcbc; do
  mkdir -p "runs/${tag}_$v"
  [ -e "runs/${tag}_$v/features" ] || cp -al runs/s32_play6/features "runs/${tag}_$v/features"
done
common=(--profile long --train-seeds "$seed" --chains 200 --main-chains 200
        --dataset-root data/sim_play6 --world-model checkpoints/policy_state_demo)
lumos benchmark agents "${common[@]}" --variants LUMOS --out "runs/${tag}_lumos" \
    > "runs/${tag}_lumos.log" 2>&1 &
lumos_pid=$!
lumos benchmark agents "${common[@]}" --variants GCBC --out "runs/${tag}_gcbc" \
    > "runs/${tag}_gcbc.log" 2>&1 &
gcbc_pid=$!
# waited for one by one, so that either run's failure stops the script
wait "$lumos_pid"
wait "$gcbc_pid"
lumos compare "runs/${tag}_lumos/eval/lumos_s$seed" "runs/${tag}_gcbc/eval/gcbc_s$seed" \
    --names "LUMOS, twice the play" "GCBC, twice the play" \
    --out "docs/agents_$tag/more_play_s$seed.md"
