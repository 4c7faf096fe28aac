#!/usr/bin/env bash
# Session 34: Table I's LUMOS and GCBC rows on twice the play (data/sim_play6), the second
# training seed (42) -- session 33's run (docs/agents_s33/more_play_seed2.sh) at seed 42: the
# two trainings at once, 200 chains each, comparable with seed 2's chains 0-199; writes
# runs/s34_{lumos,gcbc} and docs/agents_s34/more_play_s42.md.
# Run from the main work tree after docs/agents_s32/more_play.sh collected and featurized.
set -euo pipefail
bash docs/agents_s33/more_play_rows.sh 42 s34
python docs/agents_s21/per_task.py "LUMOS play6 s42=runs/s34_lumos/eval/lumos_s42" \
    "GCBC play6 s42=runs/s34_gcbc/eval/gcbc_s42" > docs/agents_s34/per_task_s42_200.md
# LUMOS seed 2 (session 33's run) on 1 000 chains, its 200 reused (session 34: one worker
# beside the seed-42 trainings), paired with the shipped GCBC's 1 000 (docs/agents_s33)
mkdir -p runs/s33_lumos/eval/lumos_s2_1000
cp runs/s33_lumos/eval/lumos_s2/chains.jsonl runs/s33_lumos/eval/lumos_s2_1000/
OMP_NUM_THREADS=1 lumos evaluate --policy runs/s33_lumos/agents/lumos_s2/checkpoints/step_00014232 \
    --chains 1000 --seeds 0 --workers 1 --resume --out runs/s33_lumos/eval/lumos_s2_1000
lumos compare runs/s33_lumos/eval/lumos_s2_1000 runs/s33_gcbc/eval/gcbc_s2_1000 \
    --names "LUMOS, twice the play (seed 2)" "GCBC, twice the play (seed 2)" \
    --out docs/agents_s34/lumos_gcbc_s2_1000.md
