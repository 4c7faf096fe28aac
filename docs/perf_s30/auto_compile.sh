#!/bin/bash
# Session 30: what `agent_train.compile=auto` (the default) gives a `state` preset training
# with its default configuration (5 000 batches of 32-step imagination with the critic, image
# and language goals mixed): auto (which compiles the agent loss there) against never (eager
# bf16), one thread each, one after the other on an idle machine, inductor's cache empty (a
# first training on a machine: every graph compiled). Each run is stopped after SECONDS; the
# figures: seconds to the first batch (start-up + compiling), batches/s over the last logged
# 500 batches, and the projected wall time of the whole 5 000-batch training.
# Usage (from the repository root, with features of data/sim_play5):
#     bash docs/perf_s30/auto_compile.sh [SECONDS] [FEATURES]
set -e
secs=${1:-480}
feats=${2:-runs/f5/features}
out=runs/perf_s30
mkdir -p $out
for mode in never auto; do
    rm -rf $out/train_$mode $out/inductor_$mode
    start=$(date +%s.%N)
    TORCHINDUCTOR_CACHE_DIR=$PWD/$out/inductor_$mode OMP_NUM_THREADS=1 timeout $secs \
        lumos train-agent --preset state --features $feats --set agent_train.seed=3 \
        --set agent_train.compile=$mode --out $out/train_$mode > $out/train_$mode.log 2>&1 || true
    echo "$start" > $out/train_$mode.start
done
python - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print("| agent_train.compile | compile decision (stderr) | s to batch 1 | batches/s (last 500) "
      "| batches reached | projected 5 000-batch wall time (min) | loss at the last common log |")
print("|---|---|---|---|---|---|---|")
rows = {}
for mode in ("never", "auto"):
    start = float(open(f"{out}/train_{mode}.start").read())
    log = open(f"{out}/train_{mode}.log", errors="replace").read()
    said = [l for l in log.replace("\r", "\n").splitlines() if "compiling the agent loss" in l]
    m = [json.loads(l) for l in open(f"{out}/train_{mode}/metrics.jsonl")]
    rows[mode] = {r["step"]: r for r in m}
    first = m[0]["time"] - start
    last = m[-1]
    prev = next(r for r in m if r["step"] == last["step"] - 500)
    rate = 500 / (last["time"] - prev["time"])
    total = (first + (5000 - 1) / rate) / 60
    rows[mode]["summary"] = (first, rate, last["step"], total)
    print(f"| {mode} | {'compiled' if said else 'eager'} | {first:.0f} | {rate:.2f} | "
          f"{last['step']} | {total:.1f} | |")
common = max(set(rows["never"]) & set(rows["auto"]) - {"summary"})
a, b = rows["never"][common], rows["auto"][common]
print(f"\nbatch {common}: eager policy / critic loss {a['policy_loss']:.3f} / "
      f"{a.get('critic_loss', float('nan')):.3f}, auto {b['policy_loss']:.3f} / "
      f"{b.get('critic_loss', float('nan')):.3f}")
e, c = rows["never"]["summary"], rows["auto"]["summary"]
print(f"steady speed auto / never: {c[1] / e[1]:.2f}x; projected whole training: "
      f"{e[3] / c[3]:.2f}x")
PY
