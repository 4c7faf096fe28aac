"""`lumos benchmark data`: packing and random-window loading speed of a dataset split."""

from __future__ import annotations

import time

import numpy as np


def register(sub) -> None:
    """`lumos benchmark data`."""
    from lumos_core.cli.common import POSITIVE

    parser = sub.add_parser("data", help="dataset packing and window loading speed")
    parser.add_argument("--dataset", default="data/sim_play/training", help="a split")
    parser.add_argument("--image-size", type=POSITIVE, default=64)
    parser.add_argument("--batch-size", type=POSITIVE, default=16)
    parser.add_argument("--seq-len", type=POSITIVE, default=50)
    parser.add_argument("--batches", type=POSITIVE, default=50)
    parser.set_defaults(handler=main)


def main(args) -> int:
    from lumos_core.data.dataset import PlayData

    data = PlayData(args.dataset, args.image_size)
    if getattr(data, "pack_seconds", None):
        print(f"packed {len(data)} frames in {data.pack_seconds:.1f} s "
              f"({len(data) / data.pack_seconds:.0f} frames/s)")
    rng = np.random.default_rng(0)
    starts = data.valid_starts(args.seq_len)
    started = time.perf_counter()
    for _ in range(args.batches):
        data.batch(rng.choice(starts, args.batch_size), args.seq_len)
    seconds = time.perf_counter() - started
    frames = args.batches * args.batch_size * args.seq_len
    print(f"random windows {args.batch_size}x{args.seq_len}: {frames / seconds:.0f} frames/s")
    return 0
