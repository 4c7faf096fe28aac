#!/bin/bash
# Session 16: Table I re-run end to end with today's code and recipe (same-task negatives
# masked; the fair no-DITTO row), 200 chains per row; nothing else runs during the trainings.
source /work/main/.venv/bin/activate
cd /work/main
echo "== start $(date)"
lumos benchmark agents --profile cpu --minutes 240 --world-model checkpoints/policy_state_demo \
    --dataset-root data/sim_play5 --out runs/bench16 --chains 200 --main-chains 200
echo "== done $(date)"
