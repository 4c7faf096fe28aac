"""Which arithmetic a training step runs in: fp32, or bf16/fp16 autocast.

bf16 autocast halves the time of the convolutions and matmuls of a vision world model and of
the agent's update on CPUs with native bf16 (AVX512-BF16 or AMX: AMD Zen 4+, Intel Sapphire
Rapids+) and on GPUs, with the same loss within a stated tolerance (``test/test_precision.py``;
docs/performance.md). It stays off by default where it does not pay or would hurt:

- CPUs without native bf16 emulate it (slower than fp32);
- state-mode models: their decoder resolves positions to ``state_resolution`` (2 mm), finer than
  bf16's 8 significant bits of a position normalised by its data std (~1 mm at a 17 cm std).

fp16 (with a GradScaler) is the CUDA fallback where bf16 is unsupported (pre-Ampere GPUs).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16; Linux cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def autocast_dtype(precision: str, device: torch.device, model: str) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device`` (None: plain fp32) for a ``model``:
    a world model's ``obs_mode`` ('vision' or 'state') or 'agent' (the behaviour model,
    trained on latents).

    ``auto``: for vision world models bf16 on GPUs that support it (else fp16: they have a
    GradScaler); for the agent fp32 on GPUs; for both bf16 on CPUs with native bf16; fp32
    for state-mode world models and everywhere else."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    cuda = device.type == "cuda"
    if precision == "fp32":
        return None
    if precision == "fp16":
        if not cuda or model == "agent":
            raise ValueError("precision fp16 needs a CUDA device and a world model (elsewhere: "
                             "bf16 or fp32)")
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if model == "state":
        return None
    if cuda:
        if model == "agent":   # launch-bound on a GPU: the casts cost more than they save
            return None        # (an H200: 0.86x of fp32, docs/performance.md "Session 21")
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16
    return torch.bfloat16 if device.type == "cpu" and cpu_has_native_bf16() else None


def describe(dtype: torch.dtype | None) -> str:
    """'bf16', 'fp16' or 'fp32'."""
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")


def autocast(device_type: str, dtype: torch.dtype | None, cache: bool = True) -> torch.autocast:
    """``torch.autocast`` to ``dtype`` on ``device_type``; a disabled one (plain fp32) for
    None, the value :func:`autocast_dtype` gives for fp32. ``cache=False``: no cache of the
    weights' casts (what a CUDA graph capture needs; eagerly the cache saves re-casting a
    weight used at every time step)."""
    return torch.autocast(device_type, dtype=dtype or torch.float32, enabled=dtype is not None,
                          cache_enabled=cache)
