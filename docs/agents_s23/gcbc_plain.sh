#!/bin/bash
# usage: bash docs/agents_s23/gcbc_plain.sh OUT SEED
# The control beside gcbc_rel.sh's seeds: the same recipe without the geometry input (the
# shipped GCBC's recipe, docs/agents_s22/gcbc_ship2.sh, with training seed SEED), then its
# evaluation on chains 0-299 into the run's sibling eval_<name>.
set -e
bash docs/agents_s23/gcbc_rel.sh "$1" "$2" --set agent.relative_inputs=false
source .venv/bin/activate
OMP_NUM_THREADS=1 lumos evaluate --policy "$1/checkpoints/step_00014232" --chains 300 --seeds 0 \
  --workers 2 --out "$(dirname "$1")/eval_$(basename "$1")" >> "$1.log" 2>&1
