"""Session 16: Table I's rows (runs/bench16, today's recipe) next to the same rows trained in
session 12 (old recipe; their grounded evaluations of session 14), chains 0-199, with each
row's per-chain paired difference to its own table's LUMOS (95 % intervals)."""
from pathlib import Path

import numpy as np
from pooled import load as chains   # docs/agents_s16/pooled.py

ROWS = [("LUMOS", "lumos"), ("no DITTO (BC)", "no_ditto_bc"),
        ("no latent plan", "no_latent_plan"), ("no alignment", "no_alignment"),
        ("MCIL", "mcil"), ("GCBC", "gcbc")]


def cell(d, ref):
    if not (Path(d) / "results.json").exists():
        return "not evaluated", "–"
    run, base = chains(d), chains(ref)
    keys = sorted(set(run) & set(base))
    x = np.array([run[k] for k in keys], float)
    mean = f"{x.mean():.2f} ± {1.96 * x.std(ddof=1) / np.sqrt(len(x)):.2f}"
    if d == ref:
        return mean, "–"
    diff = x - np.array([base[k] for k in keys], float)
    return mean, f"{diff.mean():+.2f} ± {1.96 * diff.std(ddof=1) / np.sqrt(len(diff)):.2f}"


print("| row | batches (session 16) | session 16 | difference to LUMOS | session 12's run "
      "| difference to LUMOS |")
print("|---|---|---|---|---|---|")
for name, slug in ROWS:
    new, old = f"runs/bench16/eval/{slug}", f"runs/s14/t1g_{slug}"
    steps = "–"
    ckpts = sorted(Path(f"runs/bench16/agents/{slug}/checkpoints").glob("step_*"))
    if ckpts:
        steps = f"{int(ckpts[-1].name.split('_')[1]):,}".replace(",", " ")
    a, b = cell(new, "runs/bench16/eval/lumos")
    c, d = cell(old, "runs/s14/t1g_lumos")
    print(f"| {name} | {steps} | {a} | {b} | {c} | {d} |")
