#!/bin/bash
# Session 30: the `state` preset's default training (5 000 batches of 32-step imagination
# with the critic), eager (agent_train.compile=never) and compiled (auto, which compiles
# there) run *at the same time*, one thread each on the machine's two cores, so that both
# see the same load from the shared host (run one after the other by auto_compile.sh, the
# two runs' speeds moved by 10-15 % within a run). The compiled run reads inductor's cache
# of auto_compile.sh's run (its compile time is auto_compile.sh's cold figure). Each run is
# stopped after SECONDS; printed: batches/s per 100 batches and over the common batches.
# Usage: bash docs/perf_s30/auto_compile_paired.sh [SECONDS] [FEATURES]
secs=${1:-480}
feats=${2:-runs/f5/features}
out=runs/perf_s30/pair
mkdir -p $out
for mode in never auto; do
    rm -rf $out/train_$mode
    TORCHINDUCTOR_CACHE_DIR=$PWD/runs/perf_s30/inductor_auto OMP_NUM_THREADS=1 timeout $secs \
        lumos train-agent --preset state --features $feats --set agent_train.seed=3 \
        --set agent_train.compile=$mode --out $out/train_$mode > $out/train_$mode.log 2>&1 &
done
wait
python - "$out" <<'PY'
import json, sys
out = sys.argv[1]
rates = {}
for mode in ("never", "auto"):
    rows = [json.loads(line) for line in open(f"{out}/train_{mode}/metrics.jsonl")]
    rates[mode] = {b["step"]: 100 / (b["time"] - a["time"])
                   for a, b in zip(rows, rows[1:]) if b["step"] - a["step"] == 100}
common = sorted(set(rates["never"]) & set(rates["auto"]))
print("| batches | eager batches/s | compiled batches/s | ratio |")
print("|---|---|---|---|")
for step in common:
    e, c = rates["never"][step], rates["auto"][step]
    print(f"| {step - 100}-{step} | {e:.2f} | {c:.2f} | {c / e:.2f} |")
e = len(common) / sum(1 / rates["never"][s] for s in common)
c = len(common) / sum(1 / rates["auto"][s] for s in common)
print(f"\nover batches {common[0] - 100}-{common[-1]}: eager {e:.2f}, compiled {c:.2f} "
      f"batches/s, {c / e:.2f}x")
PY
