"""Per-task success of every attempted subtask in evaluations' chains (``chains.jsonl`` written
by `lumos evaluate`): fixture tasks (drawer, slider, LED, bulb) against block tasks, then the
fixture tasks one by one. One column per evaluation.

    python docs/agents_s21/per_task.py "LUMOS s1=runs/t1s20/eval/lumos" \\
        "GCBC s1=runs/t1s20/eval/gcbc" "LUMOS s2=runs/t1s20_seed2/eval/lumos" \\
        "GCBC s2=runs/t1s20_seed2/eval/gcbc"
    python docs/agents_s21/per_task.py --chains 300 "warm start s1=runs/s21_ws1/eval" \\
        "LUMOS s1=runs/t1s20/eval/lumos" ...

``--chains N``: only each evaluation's first N chains (the same chains for every column when
the evaluations share seeds). Prints markdown: success % (attempts)."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from lumos_core.sim.tasks import FIXTURE_TASKS as FIXTURES


def attempts(path: Path, chains: int | None = None) -> dict[str, list[int]]:
    """task -> [successes, attempts] over every attempted subtask of the first ``chains``
    chains (all without)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    seen = 0
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            if "subtasks" not in row:          # the header
                continue
            if chains is not None and seen >= chains:
                break
            seen += 1
            for sub in row["subtasks"]:
                out[sub["task"]][0] += bool(sub["success"])
                out[sub["task"]][1] += 1
    return out


def pct(s: int, n: int) -> str:
    return f"{100 * s / n:.0f} % ({n})" if n else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("columns", nargs="+", metavar="LABEL=EVAL_DIR")
    parser.add_argument("--chains", type=int, default=None)
    args = parser.parse_args()
    cols = {}
    for arg in args.columns:
        label, _, root = arg.partition("=")
        cols[label] = attempts(Path(root) / "chains.jsonl", args.chains)
    tasks = set().union(*cols.values())
    groups = {"fixture tasks": FIXTURES, "block tasks": sorted(tasks - set(FIXTURES))}
    print("| | " + " | ".join(cols) + " |\n" + "|---" * (len(cols) + 1) + "|")
    for name, group in groups.items():
        cells = [pct(sum(c[t][0] for t in group if t in c), sum(c[t][1] for t in group if t in c))
                 for c in cols.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for task in FIXTURES:
        print(f"| {task} | " + " | ".join(pct(*c.get(task, [0, 0])) for c in cols.values()) + " |")


if __name__ == "__main__":
    main()
