"""Session 16: Table I's rows (runs/bench16, today's recipe) next to the same rows trained in
session 12 (old recipe; their grounded evaluations of session 14), chains 0-199, with each
row's per-chain paired difference to its own table's LUMOS (95 % intervals)."""
from pathlib import Path

from lumos_core.evaluation import load_report, paired_comparison

ROWS = [("LUMOS", "lumos"), ("no DITTO (BC)", "no_ditto_bc"),
        ("no latent plan", "no_latent_plan"), ("no alignment", "no_alignment"),
        ("MCIL", "mcil"), ("GCBC", "gcbc")]


def cells(prefix):
    """Per row slug: (avg. len. with its interval, paired difference to LUMOS) on the chains
    every evaluated row of ``prefix``SLUG shares (`lumos compare`'s computation)."""
    reports = {slug: load_report(prefix + slug) for _, slug in ROWS
               if (Path(prefix + slug) / "results.json").exists()}
    rows = {r["name"]: r for r in paired_comparison(reports, "lumos")["rows"]}
    out = {}
    for _, slug in ROWS:
        r = rows.get(slug)
        out[slug] = (("not evaluated", "–") if r is None else
                     (f"{r['avg_len']:.2f} ± {r['ci95']:.2f}",
                      "–" if slug == "lumos" else f"{r['diff']:+.2f} ± {r['diff_ci95']:.2f}"))
    return out


new, old = cells("runs/bench16/eval/"), cells("runs/s14/t1g_")
print("| row | batches (session 16) | session 16 | difference to LUMOS | session 12's run "
      "| difference to LUMOS |")
print("|---|---|---|---|---|---|")
for name, slug in ROWS:
    steps = "–"
    ckpts = sorted(Path(f"runs/bench16/agents/{slug}/checkpoints").glob("step_*"))
    if ckpts:
        steps = f"{int(ckpts[-1].name.split('_')[1]):,}".replace(",", " ")
    print(f"| {name} | {steps} | {' | '.join(new[slug])} | {' | '.join(old[slug])} |")
