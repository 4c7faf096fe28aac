"""`lumos compare`: policies compared on the evaluation chains they all ran, paired per chain."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    compare = sub.add_parser(
        "compare", help="compare evaluation reports on their common chains, paired per chain",
        description="Reads the results.json of each `lumos evaluate --out` directory and "
                    "compares the policies on the (seed, chain) pairs all of them ran: each "
                    "one's average length there and its per-chain paired difference to the "
                    "reference, with 95 % intervals. Chains differ a lot in difficulty, so "
                    "reports of different lengths are only comparable this way.")
    compare.add_argument("reports", nargs="+",
                         help="evaluation report directories (or their results.json)")
    compare.add_argument("--names", nargs="+", default=None,
                         help="row names, one per report (default: the directory names)")
    compare.add_argument("--reference", default=None,
                         help="the row the others are compared with (default: the first)")
    compare.add_argument("--out", default=None, help="also write the table to this file")
    compare.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.evaluation import ReportError, load_report, paired_comparison, paired_table
    from lumos_core.runs import writable_file

    if args.names is not None and len(args.names) != len(args.reports):
        raise ReportError(f"--names: {len(args.names)} name(s) for {len(args.reports)} "
                          f"report(s); give one per report")
    names = args.names or [_default_name(Path(r)) for r in args.reports]
    if len(set(names)) != len(names):
        raise ReportError(f"report names {names} are not distinct; give --names")
    if args.out:
        writable_file(args.out)
    reports = {name: load_report(path) for name, path in zip(names, args.reports)}
    table = paired_table(paired_comparison(reports, args.reference))
    print(table, end="")
    if args.out:
        Path(args.out).write_text(table)
    return 0


def _default_name(path: Path) -> str:
    return (path.parent if path.name == "results.json" else path).resolve().name
