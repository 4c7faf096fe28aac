"""Session 16: per-chain differences to LUMOS (alpha2 = 3, every other pair a negative)
averaged over two training seeds, with a 95 % interval over the chains (grounded evaluations
on chains 0-199; run from the repository root on the machine that holds runs/)."""
import json
from pathlib import Path

import numpy as np


def load(d):
    out = {}
    for line in open(Path(d) / "chains.jsonl"):
        r = json.loads(line)
        if "chain" in r:
            out[(r["seed"], r["chain"])] = r["completed"]
    return out


LUMOS = [load("runs/s14/t1g_lumos"), load("runs/s15/t1g_s1_lumos")]
ROWS = {"alpha2 = 0.3": ["runs/s16/t1g_s0_align03", "runs/s15/t1g_s1_align03"],
        "same-task negatives masked": ["runs/s16/t1g_s0_mask", "runs/s16/t1g_s1_mask"],
        "no alignment": ["runs/s14/t1g_no_alignment", "runs/s15/t1g_s1_noalign"]}
for name, dirs in ROWS.items():
    if not all((Path(d) / "chains.jsonl").exists() for d in dirs):
        print(f"{name}: not evaluated yet")
        continue
    runs = [load(d) for d in dirs]
    keys = sorted(set.intersection(*[set(d) for d in LUMOS + runs]))
    d = np.array([np.mean([runs[i][k] - LUMOS[i][k] for i in range(2)]) for k in keys])
    means = [np.mean([r[k] for k in keys]) for r in runs]
    print(f"{name}: {len(keys)} chains, avg. len. seed 0 / 1 {means[0]:.2f} / {means[1]:.2f}, "
          f"pooled difference to LUMOS {d.mean():+.2f} +- "
          f"{1.96 * d.std(ddof=1) / np.sqrt(len(d)):.2f}")
