"""Output and run directories: checked before the work, never mixed, resumed exactly.

Every `lumos` command that writes calls :func:`writable_dir` (or :func:`writable_file`) on
its outputs *before* it starts, so that a read-only, full or mistyped ``--out`` fails in a
second instead of after an hour of training. Training runs go through :func:`prepare_run`: a
new run never goes into a directory that holds another run (``--force`` moves the old one
aside), and ``--resume`` continues the run's own latest checkpoint with its metrics log cut
back to that step.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

#: what marks a directory as holding a training run
RUN_MARKERS = ("checkpoints", "metrics.jsonl", "tensorboard")


class OutputError(ValueError):
    """An output path cannot be used; the message names it and what to do."""


def writable_dir(path: str | Path, what: str = "--out") -> Path:
    """Create ``path`` if needed and prove that a file can be written in it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path}: is a file, expected a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".lumos-write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"0" * 4096)
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot write there ({exc.strerror or exc})") from exc
    return path


def writable_file(path: str | Path, what: str = "--out") -> Path:
    """Prove that ``path`` (a file) can be written: not a directory, its folder writable."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path}: is a directory, expected a file name")
    writable_dir(path.parent if str(path.parent) else Path("."), what)
    return path


def holds_run(path: str | Path) -> bool:
    """Whether ``path`` already holds a training run."""
    path = Path(path)
    return path.is_dir() and any((path / m).exists() for m in RUN_MARKERS)


def prepare_run(path: str | Path, resume: bool = False, force: bool = False) -> Path | None:
    """Check a run directory before training; returns where an old run was moved, if any.

    - ``resume``: the directory must hold a run (its own latest checkpoint is resumed);
    - a new run into a directory holding another run is refused, unless ``force``, which
      renames the old run to ``<path>.old-<time>`` (nothing is deleted);
    - otherwise the directory is created and proved writable.
    """
    path = Path(path)
    if resume and force:
        raise OutputError("--resume and --force contradict each other: --resume continues the "
                          f"run in {path}, --force starts a new one there")
    if resume:
        if not holds_run(path):
            raise OutputError(f"--resume: {path} holds no run to resume (no checkpoints/)")
        writable_dir(path)
        return None
    moved = None
    if holds_run(path):
        if not force:
            raise OutputError(f"--out {path}: already holds a run (checkpoints, metrics); "
                              "pass --resume to continue it, --force to move it aside and "
                              "start anew, or choose another --out")
        moved = path.with_name(f"{path.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, moved)
    writable_dir(path)
    return moved


def truncate_metrics(path: str | Path, step: int) -> int:
    """Drop the lines of ``metrics.jsonl`` logged after ``step`` (a resumed run logs them
    again); returns how many were dropped. Unreadable lines are kept as they are."""
    log = Path(path) / "metrics.jsonl"
    if not log.exists():
        return 0
    kept, dropped = [], 0
    for line in log.read_text().splitlines(keepends=True):
        try:
            logged = int(json.loads(line).get("step", -1))
        except (ValueError, AttributeError, TypeError):
            logged = -1
        if logged > step:
            dropped += 1
        else:
            kept.append(line)
    if dropped:
        tmp = log.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(kept))
        os.replace(tmp, log)
    return dropped


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, name + "."))
        else:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any],
                       sections: tuple[str, ...], ignore: tuple[str, ...] = ()) -> list[str]:
    """``section.key: stored -> current`` for every differing key of ``sections`` but the
    ``section.key`` names in ``ignore``."""
    a = _flat({k: v for k, v in stored.items() if k in sections})
    b = _flat({k: v for k, v in current.items() if k in sections})
    return [f"{key}: {a.get(key, '(absent)')!r} in the checkpoint, {b.get(key, '(absent)')!r} "
            "now" for key in sorted((set(a) | set(b)) - set(ignore)) if a.get(key) != b.get(key)]


def load_optimizer(opt, state: dict, lr: float) -> None:
    """Load an optimiser's saved state (moments, step counts) but keep the learning rate of
    the current configuration: ``load_state_dict`` restores the saved one, so a run resumed
    (or a diagnostic continued) with ``--set ...lr=`` would silently train at the old rate.
    Likewise ``capturable`` (set by a CUDA-graph training, lumos_core/cuda_graph.py) is kept
    only where the parameters are on a GPU: a run captured on a GPU resumes on a CPU."""
    opt.load_state_dict(state)
    for group in opt.param_groups:
        group["lr"] = lr
        if group.get("capturable") and not all(p.is_cuda for p in group["params"]):
            group["capturable"] = False


def check_resume_config(checkpoint: str | Path, stored: Mapping[str, Any],
                        current: Mapping[str, Any], sections: tuple[str, ...],
                        schedule: tuple[str, ...] = (), what: str = "--resume") -> None:
    """Refuse to resume with a model configuration other than the checkpoint's (the weights
    would not fit): one line per differing key instead of size-mismatch tracebacks.
    ``schedule``: ``section.key`` names that only set when something happens in training
    (e.g. where the BC warm-up ends), free to change on resume."""
    diff = config_differences(stored, current, sections, ignore=schedule)
    if diff:
        raise OutputError(f"{what}: {checkpoint} was trained with another configuration of "
                          f"{'/'.join(sections)}; use the same --preset and --set as the run "
                          "(differing keys: " + "; ".join(diff) + ")")
