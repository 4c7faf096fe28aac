"""Interleaved timing of variants of one operation (shared by the --compare-eager benchmarks)."""

from __future__ import annotations

import time
from typing import Callable


def interleaved(run: Callable[[str], object], names: list[str], repeats: int,
                warmup: int = 1) -> dict:
    """Time ``run(name)`` for each of ``names``, ``warmup`` calls each, then ``repeats`` rounds
    in which every variant runs once in turn (drift and noise hit all alike). Returns
    ``{name: {"median_s", "min_s", "max_s"}}``."""
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(warmup):
        for name in names:
            run(name)
    for _ in range(repeats):
        for name in names:
            start = time.perf_counter()
            run(name)
            times[name].append(time.perf_counter() - start)
    out = {}
    for name, ts in times.items():
        ts = sorted(ts)
        out[name] = {"median_s": ts[len(ts) // 2], "min_s": ts[0], "max_s": ts[-1]}
    return out
