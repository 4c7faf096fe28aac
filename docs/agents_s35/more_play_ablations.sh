#!/usr/bin/env bash
# Session 35 (stopped after 70 batches, not finished: beside each other and a clean-clone
# `make test`, MCIL ran at 1.35 s per batch and no DITTO at 0.90 -- 5.3 h and 3.6 h for the
# recipe's 14 232 batches, more than a session): Table I's no-DITTO and MCIL rows on twice
# the play (data/sim_play6), training seed 2 -- the two rows the ordering names
# beside GCBC -- trained at once (one process and one thread each) with the same world model,
# `long` recipe and 200 chains as session 33's LUMOS and GCBC rows
# (docs/agents_s33/more_play_seed2.sh), then each paired with that LUMOS row on chains 0-199.
# Writes runs/s35_{no_ditto,mcil} and docs/agents_s35/*.md.
# Run from the main work tree after docs/agents_s32/more_play.sh collected and featurized.
set -euo pipefail
seed=2
export OMP_NUM_THREADS=1
common=(--profile long --train-seeds "$seed" --chains 200 --main-chains 200
        --dataset-root data/sim_play6 --world-model checkpoints/policy_state_demo)
pids=()
for row in "no_ditto:no DITTO (BC)" "mcil:MCIL"; do
  tag=${row%%:*}
  variant=${row#*:}
  mkdir -p "runs/s35_$tag"
  [ -e "runs/s35_$tag/features" ] || cp -al runs/s32_play6/features "runs/s35_$tag/features"
  lumos benchmark agents "${common[@]}" --variants "$variant" --out "runs/s35_$tag" \
      > "runs/s35_$tag.log" 2>&1 &
  pids+=($!)
done
# waited for one by one, so that either run's failure stops the script
for pid in "${pids[@]}"; do wait "$pid"; done
lumos compare runs/s33_lumos/eval/lumos_s$seed runs/s35_no_ditto/eval/no_ditto_bc_s$seed \
    runs/s35_mcil/eval/mcil_s$seed runs/s33_gcbc/eval/gcbc_s$seed \
    --names "LUMOS" "no DITTO (BC)" "MCIL" "GCBC" --out docs/agents_s35/ablations_s$seed.md
python docs/agents_s21/per_task.py "LUMOS=runs/s33_lumos/eval/lumos_s$seed" \
    "no DITTO (BC)=runs/s35_no_ditto/eval/no_ditto_bc_s$seed" \
    "MCIL=runs/s35_mcil/eval/mcil_s$seed" "GCBC=runs/s33_gcbc/eval/gcbc_s$seed" \
    > docs/agents_s35/per_task_s$seed.md
