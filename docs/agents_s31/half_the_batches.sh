#!/usr/bin/env bash
# Session 31: the budget curve's other side -- LUMOS and GCBC with half the long recipe's BC
# batches (6 616 at 1e-3, then 1 000 at 3e-5; DITTO batches for LUMOS), seeds 2 and 42,
# 200 chains each, paired with the same seed's Table I rows (14 232 batches) on chains 0-199.
set -euo pipefail
export OMP_NUM_THREADS=1
mkdir -p runs/s31_half
[ -e runs/s31_half/features ] || cp -al runs/f5/features runs/s31_half/features
lumos benchmark agents --profile long --variants LUMOS GCBC \
    --batches LUMOS=7616 GCBC=7616 \
    --agent-set agent.bc_warmup=6616 --agent-set agent_train.anneal_at=6616 \
    --train-seeds 2 42 --chains 200 --main-chains 200 \
    --dataset-root data/sim_play5 --world-model checkpoints/policy_state_demo --out runs/s31_half
for s in 2 42; do
  t=$([ "$s" = 2 ] && echo runs/tab30 || echo runs/tab28b)
  lumos compare "$t/eval/lumos" "runs/s31_half/eval/lumos_s$s" "runs/s31_2x/eval/lumos_s$s" \
      "$t/eval/gcbc" "runs/s31_half/eval/gcbc_s$s" "runs/s31_2x/eval/gcbc_s$s" \
      --names "LUMOS 14k" "LUMOS 7.6k" "LUMOS 27k" "GCBC 14k" "GCBC 7.6k" "GCBC 27k" \
      --out "docs/agents_s31/budget_s$s.md"
done
