#!/bin/bash
# Session 17: Table I (session 16) LUMOS and GCBC rows extended from 200 to 1000 chains.
source /work/main/.venv/bin/activate
cd /work/main
export OMP_NUM_THREADS=1
echo "== lumos $(date)"
lumos evaluate --policy runs/bench16/agents/lumos/checkpoints/step_00001655 --chains 1000 --seeds 0 --workers 1 --out runs/bench16/eval/lumos --resume > runs/s17/ext_lumos.log 2>&1
echo "== gcbc $(date)"
lumos evaluate --policy runs/bench16/agents/gcbc/checkpoints/step_00004277 --chains 1000 --seeds 0 --workers 1 --out runs/bench16/eval/gcbc --resume > runs/s17/ext_gcbc.log 2>&1
echo "== done $(date)"
