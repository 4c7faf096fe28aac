#!/bin/bash
# Session 18: the speed benchmarks on a CPU with native bf16 (this machine: `grep -c avx512_bf16
# /proc/cpuinfo` prints 2), nothing else running. Output: runs/perf_s18/*.log (tables).
source .venv/bin/activate
mkdir -p runs/perf_s18
export OMP_NUM_THREADS=1
lumos benchmark world-model --compare-eager --compile --presets cpu --threads 1 --train-steps 7 \
    > runs/perf_s18/wm_cpu_1t.log 2>&1
lumos benchmark policy --compare-eager --presets state cpu --threads 1 --updates 7 \
    > runs/perf_s18/policy_1t.log 2>&1
export OMP_NUM_THREADS=2
lumos benchmark world-model --compare-eager --presets cpu --threads 2 --train-steps 7 \
    > runs/perf_s18/wm_cpu_2t.log 2>&1
lumos benchmark policy --compare-eager --presets state cpu --threads 2 --updates 7 \
    > runs/perf_s18/policy_2t.log 2>&1
lumos benchmark world-model --compare-eager --presets paper --threads 2 --train-steps 3 \
    > runs/perf_s18/wm_paper_2t.log 2>&1
grep -h "^| [a-z]" runs/perf_s18/*.log
