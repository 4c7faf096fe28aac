"""Interleaved timing of variants of one operation (shared by the --compare-eager benchmarks)."""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Callable


def in_own_process(fn: Callable, **kwargs):
    """``fn(**kwargs)`` in a fresh (spawned) process, for figures that must be its own, such
    as peak memory; returns its result."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, kwds=kwargs)


def reset_peak_rss() -> bool:
    """Reset this process's peak resident set (``VmHWM``) to its current size, so that
    :func:`peak_rss_mb` measures what runs from here on; False where Linux's
    ``/proc/self/clear_refs`` is not writable (the peak then includes what ran before)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """This process's peak resident set in MB: ``VmHWM`` (which :func:`reset_peak_rss`
    resets), else the lifetime maximum ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
