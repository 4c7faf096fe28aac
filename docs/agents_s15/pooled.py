"""Session 15: per-chain differences to LUMOS averaged over two training seeds, with a 95 %
interval over the chains (grounded evaluations on chains 0-199; run from the repository root
on the machine that holds runs/)."""
import numpy as np

from lumos_core.evaluation import load_report


def load(d):
    """Chains completed per (seed, chain) of the evaluation in ``d``."""
    return {(r["seed"], r["chain"]): r["completed"] for r in load_report(d)["chains_detail"]}


LUMOS = [load("runs/s14/t1g_lumos"), load("runs/s15/t1g_s1_lumos")]
ROWS = {"fair no DITTO": [load("runs/s15/t1g_s0_fair_noditto"),
                          load("runs/s15/t1g_s1_fair_noditto")],
        "no alignment": [load("runs/s14/t1g_no_alignment"), load("runs/s15/t1g_s1_noalign")]}
for name, runs in ROWS.items():
    keys = sorted(set.intersection(*[set(d) for d in LUMOS + runs]))
    d = np.array([np.mean([runs[i][k] - LUMOS[i][k] for i in range(2)]) for k in keys])
    print(f"{name}: {len(keys)} chains, pooled difference to LUMOS "
          f"{d.mean():+.2f} +- {1.96 * d.std(ddof=1) / np.sqrt(len(d)):.2f}")
