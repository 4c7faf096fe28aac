"""Session 16: the BC warm-up's losses at its end (mean of the logged values at batches
1 000-1 200 of metrics.jsonl), official contrastive loss against same-task pairs masked."""
import json

import numpy as np

RUNS = {"official, seed 0": "runs/bench12/agents/lumos",
        "official, seed 1": "runs/s13/s1_w1200",
        "alpha2 = 0.3, seed 0": "runs/s16/s0_align03",
        "alpha2 = 0.3, seed 1": "runs/s15/s1_align03",
        "masked, seed 0": "runs/s16/s0_mask", "masked, seed 1": "runs/s16/s1_mask",
        "no alignment, seed 1": "runs/s15/s1_noalign"}
for name, run in RUNS.items():
    rows = [json.loads(line) for line in open(f"{run}/metrics.jsonl")]
    rows = [r for r in rows if 1000 <= r.get("step", -1) <= 1200]
    means = {k: np.mean([r[k] for r in rows]) for k in ("align", "bc_mse", "plan_kl")
             if all(k in r for r in rows)}
    print(f"{name:22s} ({len(rows)} logs) " + ", ".join(f"{k} {v:.4f}" for k, v in means.items()))
