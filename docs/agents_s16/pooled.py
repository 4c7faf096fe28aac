"""Session 16: per-chain differences averaged over two training seeds, with a 95 % interval
over the chains (grounded evaluations on chains 0-199; run from the repository root on the
machine that holds runs/). Reference first: LUMOS (alpha2 = 3, every other pair a negative),
then the masked loss against the other ways of dealing with the alignment loss."""
import numpy as np

from lumos_core.evaluation import load_report

RUNS = {"LUMOS": ["runs/s14/t1g_lumos", "runs/s15/t1g_s1_lumos"],
        "alpha2 = 0.3": ["runs/s16/t1g_s0_align03", "runs/s15/t1g_s1_align03"],
        "same-task negatives masked": ["runs/s16/t1g_s0_mask", "runs/s16/t1g_s1_mask"],
        "no alignment": ["runs/s14/t1g_no_alignment", "runs/s15/t1g_s1_noalign"]}


def load(d):
    """Chains completed per (seed, chain) of the evaluation in ``d``."""
    return {(r["seed"], r["chain"]): r["completed"] for r in load_report(d)["chains_detail"]}


def pooled(name, reference):
    runs, ref = [load(d) for d in RUNS[name]], [load(d) for d in RUNS[reference]]
    keys = sorted(set.intersection(*[set(d) for d in ref + runs]))
    d = np.array([np.mean([runs[i][k] - ref[i][k] for i in range(2)]) for k in keys])
    means = [np.mean([r[k] for k in keys]) for r in runs]
    print(f"{name} vs {reference}: {len(keys)} chains, avg. len. seed 0 / 1 "
          f"{means[0]:.2f} / {means[1]:.2f}, pooled difference {d.mean():+.2f} +- "
          f"{1.96 * d.std(ddof=1) / np.sqrt(len(d)):.2f}")


if __name__ == "__main__":
    for name in ("alpha2 = 0.3", "same-task negatives masked", "no alignment"):
        pooled(name, "LUMOS")
    for reference in ("alpha2 = 0.3", "no alignment"):
        pooled("same-task negatives masked", reference)
