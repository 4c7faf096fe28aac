"""Write a dataset of random-content episodes (CALVIN layout: both cameras, robot_obs,
scene_obs, actions) for speed runs of `lumos train-wm` on a machine without the simulator (a
GPU machine): the content does not matter to a step's cost, only its shapes do. Frames are 8 x 8
random colour blocks scaled up (structure a model can learn, so that the training losses of two
runs can be compared; per-pixel noise has an error floor every run reaches at once).

    python scripts/random_play.py OUT [--episodes 20] [--length 200] [--image-size 64]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lumos_core.data.synthetic import write_random_play


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()
    split = write_random_play(args.out / "training", [args.length] * args.episodes,
                              static_size=args.image_size, blocks=8, scene=True)
    print(f"{args.episodes} x {args.length} random frames -> {split}")


if __name__ == "__main__":
    main()
