#!/bin/bash
# Session 18: seed 1 of session 17's long warm start and of GCBC at its time, plus the
# rate-matched GCBC (gcbc_anneal.sh), paired on the 500 chains all of them ran. Run from the
# repository root on the machine that holds runs/ (the runs of `bash seed1.sh`).
source .venv/bin/activate
lumos compare runs/s17/s1_eval_ditto runs/s17/s1_eval_bc runs/s17/s1_eval_w4000 \
    runs/s17/s1_eval_gcbc8600 runs/s17/s1_eval_gcbc8940 \
    --names "warm start 4000 + 340 DITTO" "warm start 4000 + 340 BC (control)" \
    "warm start 4000" "GCBC 8 600 batches" "GCBC 8 600 + 340 at 3e-5" \
    --out docs/agents_s18/paired_seed1_500.md
