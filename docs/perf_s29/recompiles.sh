#!/bin/bash
# Session 29: recompilations of the compiled agent loss in a short training whose batches mix
# image and language goals (the `long` recipe with agent.image_goals=true and 1 000 BC batches,
# so that all 16 batches are BC warm-up batches), one thread. Run at a commit before 4e5166e
# and at it: 33 recompilations / 104.5 s before, 0 / 24.6 s after (idle machine).
# Usage: bash docs/perf_s29/recompiles.sh OUT_DIR
set -e
out=${1:?usage: recompiles.sh OUT_DIR}
sets=$(python -c "from lumos_core.benchmarks.agents import LONG_RECIPE as R
print(' '.join('--set ' + o for o in R))")
rm -rf "$out"
/usr/bin/time -f "%e s wall" env OMP_NUM_THREADS=1 TORCH_LOGS=recompiles lumos train-agent \
    --preset state $sets --set agent.image_goals=true --set agent.bc_warmup=1000 \
    --set agent_train.anneal_at=1000 --set agent_train.compile=always \
    --set agent_train.steps=16 --set agent_train.seed=3 --features runs/f5/features \
    --out "$out" > "$out.log" 2>&1
echo "recompilations: $(grep -c 'Recompiling function' "$out.log" || true)"
tail -n 1 "$out.log"
