#!/usr/bin/env bash
# Session 31: Table I's LUMOS and GCBC rows with twice the long recipe's BC batches
# (26 464 at 1e-3, then 1 000 at 3e-5 -- DITTO batches for LUMOS), training seeds 2 and 42,
# 200 chains each; then paired against the same seed's Table I rows (14 232 batches:
# runs/tab30 = seed 2, runs/tab28b = seed 42) on chains 0-199.
# Run from the main work tree (the features' dataset path is relative there).
set -euo pipefail
export OMP_NUM_THREADS=1
mkdir -p runs/s31_2x
[ -e runs/s31_2x/features ] || cp -al runs/f5/features runs/s31_2x/features
lumos benchmark agents --profile long --variants LUMOS GCBC \
    --batches LUMOS=27464 GCBC=27464 \
    --agent-set agent.bc_warmup=26464 --agent-set agent_train.anneal_at=26464 \
    --train-seeds 2 42 --chains 200 --main-chains 200 \
    --dataset-root data/sim_play5 --world-model checkpoints/policy_state_demo --out runs/s31_2x
for s in 2 42; do
  t=$([ "$s" = 2 ] && echo runs/tab30 || echo runs/tab28b)
  lumos compare "$t/eval/lumos" "runs/s31_2x/eval/lumos_s$s" "$t/eval/gcbc" "runs/s31_2x/eval/gcbc_s$s" \
      --names "LUMOS 14k" "LUMOS 27k" "GCBC 14k" "GCBC 27k" --out "docs/agents_s31/twice_s$s.md"
done
