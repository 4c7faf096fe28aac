"""`lumos benchmark <name>`: each benchmark's options live in lumos_core/benchmarks/<name>.py."""

from __future__ import annotations

import importlib


def register(sub) -> None:
    from lumos_core.benchmarks import BENCHMARKS

    bench = sub.add_parser("benchmark", help="print performance / quality figures")
    names = bench.add_subparsers(dest="target", metavar="NAME", required=True)
    for module in BENCHMARKS.values():
        importlib.import_module(f"lumos_core.benchmarks.{module}").register(names)
