"""Session 30: Table I over two training seeds from two single-seed runs of
`lumos benchmark agents` (each row's evaluation as that run wrote it), summarised by the
benchmark's own over-seeds table (lumos_core.benchmarks.agents.over_seeds).

    python docs/agents_s30/two_seeds.py 42=runs/tab28b 2=runs/tab30 > docs/agents_s30/two_seeds.md
"""

import json
import sys
from pathlib import Path

from lumos_core.benchmarks.agents import over_seeds, over_seeds_table
from lumos_core.evaluation import load_report


def main(args: list[str]) -> None:
    reports, variant_of, seed_of, loaded = {}, {}, {}, {}
    for arg in args:
        seed, _, run = arg.partition("=")
        for variant, report in json.loads((Path(run) / "report.json").read_text())[
                "reports"].items():
            name = f"{variant} (seed {seed})"
            reports[name] = report
            variant_of[name], seed_of[name] = variant, int(seed)
            loaded[name] = load_report(report["written_to"])
    print(over_seeds_table(over_seeds(reports, variant_of, seed_of, loaded)))


if __name__ == "__main__":
    main(sys.argv[1:])
