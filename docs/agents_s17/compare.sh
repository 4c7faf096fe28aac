#!/bin/bash
# Session 17: the paired tables (run from the repository root on the machine that holds runs/).
source .venv/bin/activate
# DITTO against the matched BC control from a 4 000-batch warm start (long_warm_start.sh), and
# GCBC given the long LUMOS run's time (gcbc_long.sh) and Table I's (4 277 batches), on the
# 500 chains all of them ran
lumos compare runs/s17/eval_ditto runs/s17/eval_bc runs/s17/eval_w4000 runs/s17/eval_gcbc8600 \
    runs/bench16/eval/gcbc runs/bench16/eval/lumos \
    --names "warm start 4000 + 340 DITTO" "warm start 4000 + 340 BC (control)" \
    "warm start 4000" "GCBC 8 600 batches" "GCBC 4 277 batches (Table I)" "LUMOS (Table I)" \
    --out docs/agents_s17/paired_long_warm_500.md
# the same next to the warm start itself, session 16's Table I LUMOS (1 200 BC + 455 DITTO
# batches) and GCBC (4 277 batches), and GCBC given the long LUMOS run's time (gcbc_long.sh):
# chains 0-199, which every one of them ran
lumos compare runs/s17/eval_ditto runs/s17/eval_bc runs/s17/eval_w4000 \
    runs/bench16/eval/lumos runs/bench16/eval/gcbc runs/s17/eval_gcbc8600 \
    --names "warm start 4000 + 340 DITTO" "warm start 4000 + 340 BC (control)" \
    "warm start 4000" "Table I LUMOS" "Table I GCBC" "GCBC 8600" \
    --out docs/agents_s17/paired_long_warm_200.md
# Table I's LUMOS and GCBC on their 1 000 chains
lumos compare runs/bench16/eval/lumos runs/bench16/eval/gcbc --names LUMOS GCBC \
    --out docs/agents_s17/table1_lumos_gcbc_1000.md
