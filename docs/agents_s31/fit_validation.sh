#!/usr/bin/env bash
# Session 31: teacher-forced action error on the validation split's language windows (never
# trained on), 14k- against 27k-batch LUMOS and GCBC, per training seed.
set -euo pipefail
export OMP_NUM_THREADS=1
for s in 2 42; do
  t=$([ "$s" = 2 ] && echo runs/tab30 || echo runs/tab28b)
  lumos ladder fit --dataset data/sim_play5 --split validation --windows 10 --history 16 \
      --policy "$t/agents/lumos/checkpoints/step_00014232" \
               "runs/s31_2x/agents/lumos_s$s/checkpoints/step_00027464" \
               "$t/agents/gcbc/checkpoints/step_00014232" \
               "runs/s31_2x/agents/gcbc_s$s/checkpoints/step_00027464" \
      --out "docs/agents_s31/fit_s$s"
done
