#!/bin/bash
# Session 17: the paired tables (run from the repository root on the machine that holds runs/).
source .venv/bin/activate
# DITTO against the matched BC control from a 4 000-batch warm start (long_warm_start.sh),
# next to the warm start itself and to session 16's Table I LUMOS (1 200 BC + 455 DITTO batches)
# and GCBC (4 277 batches)
lumos compare runs/s17/eval_ditto runs/s17/eval_bc runs/s17/eval_w4000 \
    runs/bench16/eval/lumos runs/bench16/eval/gcbc \
    --names "warm start 4000 + 340 DITTO" "warm start 4000 + 340 BC (control)" \
    "warm start 4000" "Table I LUMOS" "Table I GCBC" --out docs/agents_s17/paired_long_warm.md
