#!/bin/bash
# The speed figures of docs/performance.md and docs/imagination.md, in one sequence. Run it on
# an idle machine (nothing else training): the fp32 and default paths are interleaved within
# each command, so drift hits both alike, but other jobs add noise.
#   scripts/bench_speed.sh [OLD_COMMIT]   # with a commit: that code's fp32 figures alternately
set -eu
cd "$(dirname "$0")/.."
source .venv/bin/activate
export OMP_NUM_THREADS=1
date; uptime
lumos benchmark imagination --presets state cpu --repeats 30
lumos benchmark policy --compare-eager --presets state cpu --threads 1 --updates 5
lumos benchmark policy --compare-eager --presets state cpu --threads 2 --updates 5
lumos benchmark world-model --compare-eager --presets state cpu --threads 1 --train-steps 5
lumos benchmark world-model --compare-eager --presets paper --threads 1 --train-steps 3
OMP_NUM_THREADS=2 lumos benchmark world-model --compare-eager --presets cpu paper --threads 2 \
    --train-steps 3
if [ $# -ge 1 ]; then
    old=$(mktemp -d)
    git worktree add -f "$old" "$1" -q
    for _ in 1 2; do
        (cd "$old" && PYTHONPATH="$old" python -m lumos_core.cli benchmark policy \
            --presets state cpu --threads 1) | sed 's/^/OLD /'
        python -m lumos_core.cli benchmark policy --presets state cpu --threads 1 | sed 's/^/NEW /'
        (cd "$old" && PYTHONPATH="$old" python -m lumos_core.cli benchmark world-model \
            --presets cpu --train-steps 5) | sed 's/^/OLD /'
        python -m lumos_core.cli benchmark world-model --presets cpu --train-steps 5 \
            | sed 's/^/NEW /'
    done
    git worktree remove --force "$old"
fi
date
