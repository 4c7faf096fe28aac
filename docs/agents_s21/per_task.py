"""Where GCBC's lead over LUMOS comes from: per-task success of every attempted subtask in two
evaluations' chains (``chains.jsonl`` written by `lumos evaluate`), fixture tasks (drawer,
slider, LED, bulb) against block tasks, per training seed.

    python docs/agents_s21/per_task.py 1=runs/t1s20/eval 2=runs/t1s20_seed2/eval

Each argument is SEED=EVAL_DIR with EVAL_DIR/lumos and EVAL_DIR/gcbc (`lumos benchmark agents`'
layout). Prints markdown: the two groups' pooled success per seed, then the fixture tasks one by
one (success % and attempts)."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

FIXTURES = ("open_drawer", "close_drawer", "move_slider_left", "move_slider_right",
            "turn_on_led", "turn_off_led", "turn_on_lightbulb", "turn_off_lightbulb")
POLICIES = ("lumos", "gcbc")


def attempts(path: Path) -> dict[str, list[int]]:
    """task -> [successes, attempts] over every attempted subtask of every chain."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            for sub in row.get("subtasks", []):
                out[sub["task"]][0] += bool(sub["success"])
                out[sub["task"]][1] += 1
    return out


def pooled(counts: dict[str, list[int]], tasks) -> tuple[int, int]:
    s = sum(counts[t][0] for t in tasks if t in counts)
    n = sum(counts[t][1] for t in tasks if t in counts)
    return s, n


def pct(s: int, n: int) -> str:
    return f"{100 * s / n:.0f} % ({n})" if n else "–"


def main(argv: list[str]) -> None:
    runs = {}
    for arg in argv:
        seed, _, root = arg.partition("=")
        runs[seed] = {p: attempts(Path(root) / p / "chains.jsonl") for p in POLICIES}
    print("| seed | group | LUMOS | GCBC |\n|---|---|---|---|")
    for seed, counts in runs.items():
        tasks = set(counts["lumos"]) | set(counts["gcbc"])
        blocks = sorted(tasks - set(FIXTURES))
        for name, group in (("fixtures", FIXTURES), ("blocks", blocks)):
            cells = [pct(*pooled(counts[p], group)) for p in POLICIES]
            print(f"| {seed} | {name} | {cells[0]} | {cells[1]} |")
    print()
    seeds = list(runs)
    print("| task | " + " | ".join(f"LUMOS s{s} | GCBC s{s}" for s in seeds) + " |")
    print("|---" * (1 + 2 * len(seeds)) + "|")
    for task in FIXTURES:
        cells = [pct(*runs[s][p].get(task, [0, 0])) for s in seeds for p in POLICIES]
        print(f"| {task} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
