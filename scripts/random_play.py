"""Write a dataset of random-content episodes (CALVIN layout: both cameras, robot_obs, actions)
for speed runs of `lumos train-wm` on a machine without the simulator (a GPU machine):
the content does not matter to a step's cost, only its shapes do. Frames are 8 x 8 random
colour blocks scaled up (structure a model can learn, so that the training losses of two runs
can be compared; per-pixel noise has an error floor every run reaches at once).

    python scripts/random_play.py OUT [--episodes 20] [--length 200] [--image-size 64]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lumos_core.data.recording import EpisodeWriter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    size = args.image_size
    scale = max(1, size // 8)

    def frame() -> np.ndarray:
        blocks = rng.integers(0, 255, (size // scale, size // scale, 3), np.uint8)
        return np.repeat(np.repeat(blocks, scale, 0), scale, 1)
    writer = EpisodeWriter(args.out / "training")
    for _ in range(args.episodes):
        writer.begin()
        for _ in range(args.length):
            writer.append({
                "rgb_static": frame(),
                "rgb_gripper": frame(),
                "robot_obs": rng.normal(size=15).astype(np.float32),
                "scene_obs": rng.normal(size=24).astype(np.float32),
                "rel_actions": rng.uniform(-1, 1, 7).astype(np.float32),
                "actions": rng.normal(size=7).astype(np.float32)})
        writer.commit()
    print(f"{args.episodes} x {args.length} random frames -> {args.out / 'training'}")


if __name__ == "__main__":
    main()
