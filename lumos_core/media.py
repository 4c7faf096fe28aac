"""GIF writing with a real frame duration.

imageio 2.28+ (its pillow plugin) reads ``duration`` in milliseconds: ``duration=1 / 15``
wrote frames of 0 ms, which viewers play at their own default speed. GIF stores durations in
10 ms units, so a frame lasts 1/fps seconds rounded to 10 ms (15 Hz: 70 ms).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def frame_ms(fps: float) -> int:
    """Duration of one GIF frame at ``fps``, in milliseconds (a multiple of 10)."""
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    return max(10, int(round(1000.0 / fps / 10.0)) * 10)


def save_gif(path: str | Path, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write ``frames`` (H, W, 3 uint8) as a looping GIF playing at ``fps``."""
    import imageio

    path = Path(path)
    imageio.mimsave(path, list(frames), duration=frame_ms(fps), loop=0)
    return path
