"""Random-content play in the CALVIN layout, for what needs a dataset's shapes but not its
content: tests of the data path, and speed runs of ``lumos train-wm`` on a machine without the
simulator (``scripts/random_play.py``; a step's cost depends on shapes only)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from lumos_core.data.recording import EpisodeWriter


def write_random_play(split: str | Path, lengths: Sequence[int], *, static_size: int = 64,
                      gripper_size: int | None = None, blocks: int = 0, scene: bool = False,
                      seed: int = 0) -> Path:
    """Write one episode of random frames per entry of ``lengths`` into ``split`` (both
    cameras, ``robot_obs``, ``rel_actions``, ``actions``; ``scene_obs`` with ``scene``) and
    return the split. ``blocks``: 0 for per-pixel noise; otherwise each image is a ``blocks``
    x ``blocks`` grid of random colours scaled up to its size (structure a model can learn, so
    that two trainings' losses can be compared: per-pixel noise has an error floor every run
    reaches at once)."""
    rng = np.random.default_rng(seed)
    sizes = (static_size, static_size if gripper_size is None else gripper_size)
    for size in sizes:
        if blocks and size % blocks:
            raise ValueError(f"image size {size} is not a multiple of blocks={blocks}")

    def image(size: int) -> np.ndarray:
        if not blocks:
            return rng.integers(0, 255, (size, size, 3), np.uint8)
        scale = size // blocks
        grid = rng.integers(0, 255, (blocks, blocks, 3), np.uint8)
        return np.repeat(np.repeat(grid, scale, 0), scale, 1)

    writer = EpisodeWriter(split)
    for length in lengths:
        writer.begin()
        for _ in range(length):
            frame = {"rgb_static": image(sizes[0]), "rgb_gripper": image(sizes[1]),
                     "robot_obs": rng.normal(size=15).astype(np.float32)}
            if scene:
                frame["scene_obs"] = rng.normal(size=24).astype(np.float32)
            frame["rel_actions"] = rng.uniform(-1, 1, 7).astype(np.float32)
            frame["actions"] = rng.normal(size=7).astype(np.float32)
            writer.append(frame)
        writer.commit()
    return Path(split)
