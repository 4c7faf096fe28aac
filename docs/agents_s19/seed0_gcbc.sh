#!/bin/bash
# Session 19: seed 0 of GCBC at the long LUMOS run's batches' time and of the rate-matched
# GCBC (8 600 + 340 batches at 3e-5), fp32 as session 17's seed-0 LUMOS runs, on the same 500
# chains; then the paired table of the two. ~36 min training on one core + two 500-chain
# evaluations on two workers (session 19: 11:38-12:45 beside other work).
EXTRA='--set agent_train.precision=fp32' bash docs/agents_s17/gcbc_long.sh 0
EXTRA='--set agent_train.precision=fp32' bash docs/agents_s18/gcbc_anneal.sh 0
source .venv/bin/activate
lumos compare runs/s17/eval_gcbc8940 runs/s17/eval_gcbc8600 \
    --names "GCBC 8 600 + 340 at 3e-5" "GCBC 8 600" --out docs/agents_s19/paired_seed0_gcbc.md
