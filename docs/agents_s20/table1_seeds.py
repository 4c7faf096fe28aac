"""Session 20: Table I's further training seeds (each row trained exactly session 16's batch
counts, fp32, `--agent-set agent_train.seed=N`) next to session 16's table (seed 42, 20
minutes per row; its paired table, docs/agents_s16/table1_paired.md), chains 0-199, grounded:
each row's average chain length and its paired difference to its own table's LUMOS, and the
mean over the seeds (the seeds' tables are independent: the interval of a mean of n of them
is sqrt(sum of their squared intervals) / n).

    python docs/agents_s20/table1_seeds.py 1=runs/t1s20/eval 2=runs/t1s20_seed2/eval
"""
import math
import re
import sys
from pathlib import Path

from lumos_core.benchmarks.agents import VARIANTS, _slug
from lumos_core.evaluation import load_report, paired_comparison

#: (row name, evaluation directory) as `lumos benchmark agents` names them
ROWS = [(name, _slug(name)) for name in VARIANTS]
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


def evaluated(eval_dir: Path) -> dict[str, tuple]:
    """The same cells from one seed's evaluations, on chains 0-199 (every row has them)."""
    reports = {}
    for name, slug in ROWS:
        if (eval_dir / slug / "results.json").exists():
            report = load_report(eval_dir / slug)
            report["chains_detail"] = [r for r in report["chains_detail"] if r["chain"] < 200]
            reports[name] = report
    if "LUMOS" not in reports or len(reports) < 2:      # nothing to pair yet
        return {}
    rows = paired_comparison(reports, "LUMOS")["rows"]
    return {r["name"]: ((r["avg_len"], r["ci95"]),
                        None if r["name"] == "LUMOS" else (r["diff"], r["diff_ci95"]))
            for r in rows}


def fmt(cell, sign=False) -> str:
    return "–" if cell is None else (f"{cell[0]:+.2f} ± {cell[1]:.2f}" if sign
                                     else f"{cell[0]:.2f} ± {cell[1]:.2f}")


def pooled(cells: list) -> tuple | None:
    if not cells or any(c is None for c in cells):
        return None
    n = len(cells)
    return (sum(c[0] for c in cells) / n, math.sqrt(sum(c[1] ** 2 for c in cells)) / n)


def main() -> None:
    seeds = {"42 (session 16)": session16()}
    for item in sys.argv[1:]:
        seed, _, path = item.partition("=")
        seeds[f"{seed} (session 20)"] = evaluated(Path(path))
    head = " | ".join(f"seed {s} | difference to LUMOS" for s in seeds)
    print(f"| row | {head} | mean of the {len(seeds)} seeds | its difference to LUMOS |")
    print("|---" * (2 * len(seeds) + 3) + "|")
    for name, _ in ROWS:
        cells = [table.get(name) for table in seeds.values()]
        per_seed = " | ".join(f"{fmt(c[0])} | {fmt(c[1], True)}" if c else "not evaluated | –"
                              for c in cells)
        mean = pooled([c[0] for c in cells]) if all(cells) else None
        diff = pooled([c[1] for c in cells]) if all(cells) else None
        print(f"| {name} | {per_seed} | {fmt(mean)} | {fmt(diff, True)} |")


if __name__ == "__main__":
    main()
