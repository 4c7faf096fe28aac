#!/usr/bin/env bash
# Session 33: Table I's LUMOS and GCBC rows on twice the play (data/sim_play6: 600 000 frames,
# 5 400 language windows at CALVIN's density), training seed 2 only, the two trainings at once
# (one process and one thread each) -- session 32's script (docs/agents_s32/more_play.sh) with
# both seeds did not fit this CPU (AMD EPYC family 23, AVX2, fp32 agent). The same world model
# (the shipped policy's) and `long` recipe (14 232 batches) as Table I's rows on data/sim_play5;
# 200 chains each, comparable with those rows' chains 0-199 (docs/agents.md, "Session 31").
# Run from the main work tree after docs/agents_s32/more_play.sh collected and featurized.
set -euo pipefail
bash docs/agents_s33/more_play_rows.sh 2 s33
export OMP_NUM_THREADS=1
python docs/agents_s21/per_task.py "LUMOS play6 s2=runs/s33_lumos/eval/lumos_s2" \
    "GCBC play6 s2=runs/s33_gcbc/eval/gcbc_s2" > docs/agents_s33/per_task_s2_200.md
# GCBC on 1 000 chains (its 200 reused; session 33 ran the first ~500 new chains with one
# worker beside the LUMOS training, then the rest with two) and with the second held-out
# paraphrase set
ckpt=runs/s33_gcbc/agents/gcbc_s2/checkpoints/step_00014232
mkdir -p runs/s33_gcbc/eval/gcbc_s2_1000
cp runs/s33_gcbc/eval/gcbc_s2/chains.jsonl runs/s33_gcbc/eval/gcbc_s2_1000/
lumos evaluate --policy "$ckpt" --chains 1000 --seeds 0 --workers 2 --resume \
    --out runs/s33_gcbc/eval/gcbc_s2_1000
lumos evaluate --policy "$ckpt" --chains 200 --seeds 0 --workers 2 \
    --instructions config/sim_instructions_eval2.yaml --out runs/s33_gcbc/eval/gcbc_s2_eval2
lumos compare runs/s33_gcbc/eval/gcbc_s2 runs/s33_gcbc/eval/gcbc_s2_eval2 \
    --names "GCBC 600k, evaluation paraphrases" "GCBC 600k, second held-out set" \
    --out docs/agents_s33/heldout2_gcbc_s2.md
