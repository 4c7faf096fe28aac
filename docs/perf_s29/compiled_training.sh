#!/bin/bash
# Session 29: the trainer's own throughput and loss curve, eager bf16 against the whole agent
# loss compiled (agent_train.compile=always), the `state` preset's default configuration
# (31-step imagination with the critic, image and language goals mixed), one thread each, one
# after the other on an idle machine. Usage: bash docs/perf_s29/compiled_training.sh [BATCHES]
set -e
n=${1:-300}
for mode in never always; do
    rm -rf runs/perf_s29/train_$mode
    /usr/bin/time -f "$mode: %e s wall" env OMP_NUM_THREADS=1 lumos train-agent --preset state \
        --features runs/f5/features --set agent_train.steps=$n --set agent_train.seed=3 \
        --set agent_train.compile=$mode --out runs/perf_s29/train_$mode \
        > runs/perf_s29/train_$mode.log 2>&1
    tail -n 1 runs/perf_s29/train_$mode.log
done
python - "$n" <<'PY'
import json, sys
rows = {m: [json.loads(l) for l in open(f"runs/perf_s29/train_{m}/metrics.jsonl")]
        for m in ("never", "always")}
print("| step | eager policy / critic loss | compiled policy / critic loss |")
print("|---|---|---|")
for a, b in zip(rows["never"], rows["always"]):
    print(f"| {a['step']} | {a['policy_loss']:.3f} / {a.get('critic_loss', float('nan')):.3f} | "
          f"{b['policy_loss']:.3f} / {b.get('critic_loss', float('nan')):.3f} |")
for m, r in rows.items():
    print(m, "windows/s at the last log:", round(r[-1].get("windows_per_s", 0)))
PY
