"""Session 20: Table I's second training seed (runs/t1s20: the rows trained exactly session
16's batch counts, `agent_train.seed=1`, fp32) next to session 16's table (seed 42, 20 minutes
per row; its paired table, docs/agents_s16/table1_paired.md), chains 0-199, grounded: each
row's average chain length and its paired difference to its own table's LUMOS, and the mean of
the two seeds (the two seeds' differences are independent: the interval of their mean is
sqrt(a^2 + b^2) / 2 of theirs).

    python docs/agents_s20/table1_seeds.py [runs/t1s20/eval]
"""
import math
import re
import sys
from pathlib import Path

from lumos_core.evaluation import load_report, paired_comparison

ROWS = [("LUMOS", "lumos"), ("no DITTO (BC)", "no_ditto_bc"),
        ("no latent plan", "no_latent_plan"), ("no alignment", "no_alignment"),
        ("MCIL", "mcil"), ("GCBC", "gcbc")]
SESSION16 = Path(__file__).resolve().parents[1] / "agents_s16" / "table1_paired.md"
CELL = re.compile(r"([+-]?\d+\.\d+) ± (\d+\.\d+)")


def session16() -> dict[str, tuple]:
    """{row name: ((avg, ci), (diff, ci) or None)} from session 16's paired table."""
    out = {}
    for line in SESSION16.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and CELL.fullmatch(cells[3]):
            avg = tuple(map(float, CELL.fullmatch(cells[3]).groups()))
            diff = CELL.fullmatch(cells[4])
            out[cells[0]] = (avg, tuple(map(float, diff.groups())) if diff else None)
    return out


def seed1(eval_dir: Path) -> dict[str, tuple]:
    """The same cells from this session's evaluations (chains every evaluated row shares)."""
    reports = {name: load_report(eval_dir / slug) for name, slug in ROWS
               if (eval_dir / slug / "results.json").exists()}
    if "LUMOS" not in reports:
        return {}
    rows = paired_comparison(reports, "LUMOS")["rows"]
    return {r["name"]: ((r["avg_len"], r["ci95"]),
                        None if r["name"] == "LUMOS" else (r["diff"], r["diff_ci95"]))
            for r in rows}


def fmt(cell, sign=False) -> str:
    return "–" if cell is None else (f"{cell[0]:+.2f} ± {cell[1]:.2f}" if sign
                                     else f"{cell[0]:.2f} ± {cell[1]:.2f}")


def main() -> None:
    old, new = session16(), seed1(Path(sys.argv[1] if len(sys.argv) > 1 else
                                       "runs/t1s20/eval"))
    print("| row | seed 42 (session 16) | difference to LUMOS | seed 1 (session 20) | "
          "difference to LUMOS | mean of the two seeds | its difference to LUMOS |")
    print("|---|---|---|---|---|---|---|")
    for name, _ in ROWS:
        a, b = old.get(name), new.get(name)
        mean = diff = None
        if a and b:
            mean = ((a[0][0] + b[0][0]) / 2, math.hypot(a[0][1], b[0][1]) / 2)
            if a[1] and b[1]:
                diff = ((a[1][0] + b[1][0]) / 2, math.hypot(a[1][1], b[1][1]) / 2)
        print(f"| {name} | {fmt(a and a[0])} | {fmt(a and a[1], True)} | "
              f"{fmt(b[0]) if b else 'not evaluated'} | {fmt(b and b[1], True)} | "
              f"{fmt(mean)} | {fmt(diff, True)} |")


if __name__ == "__main__":
    main()
