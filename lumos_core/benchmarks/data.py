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
    parser.add_argument("--calvin-frames", type=POSITIVE, default=None,
                        help="instead: write this many frames of CALVIN's real size and keys "
                        "(200x200 / 84x84 RGB, depth, tactile, float64 vectors) to a temporary "
                        "split and measure packing, against decompressing every key")
    parser.set_defaults(handler=main)


def _calvin_frame(rng: np.random.Generator, fid: int) -> dict:
    """A frame with CALVIN's keys, shapes and dtypes; smooth images with sensor noise, so that
    they compress about as rendered scenes do (neither constant nor white noise)."""
    def image(h, w, c):
        y, x = np.mgrid[0:h, 0:w]
        base = (np.sin(x / 9.0 + fid / 20.0) + np.cos(y / 7.0)) * 60 + 128
        noise = rng.normal(0, 4, (h, w, c))
        return np.clip(base[..., None] + noise, 0, 255).astype(np.uint8)

    return {"actions": rng.normal(size=7), "rel_actions": rng.uniform(-1, 1, 7),
            "robot_obs": rng.normal(size=15), "scene_obs": rng.normal(size=24),
            "rgb_static": image(200, 200, 3), "rgb_gripper": image(84, 84, 3),
            "depth_static": image(200, 200, 1)[..., 0].astype(np.float32) / 255,
            "depth_gripper": image(84, 84, 1)[..., 0].astype(np.float32) / 255,
            "rgb_tactile": image(160, 120, 6), "depth_tactile":
            image(160, 120, 2).astype(np.float32) / 255}


def calvin_packing(frames: int, image_size: int = 64) -> dict:
    """Pack ``frames`` synthetic CALVIN-size frames; frames/s of the pack (only the six keys
    used are decompressed) and of reading every key of the same files (the first versions),
    measured in the same run, plus the projection to task_D_D's 512 k frames."""
    import tempfile
    from pathlib import Path

    from lumos_core.data.dataset import PlayData, _load_frame

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        split = Path(tmp) / "training"
        split.mkdir()
        for fid in range(frames):
            np.savez_compressed(split / f"episode_{fid:07d}.npz", **_calvin_frame(rng, fid))
        np.save(split / "ep_start_end_ids.npy", np.array([[0, frames - 1]]))
        started = time.perf_counter()
        for fid in range(frames):
            _load_frame(split / f"episode_{fid:07d}.npz")
        every_key = frames / (time.perf_counter() - started)
        started = time.perf_counter()
        PlayData(split, image_size, progress=False)
        packed = frames / (time.perf_counter() - started)
    return {"frames": frames, "pack_frames_per_s": packed, "every_key_frames_per_s": every_key,
            "task_D_D_minutes": 512_000 / packed / 60}


def main(args) -> int:
    from lumos_core.data.dataset import PlayData

    if args.calvin_frames:
        r = calvin_packing(args.calvin_frames, args.image_size)
        print(f"CALVIN-size frames ({r['frames']}): packing to {args.image_size}x"
              f"{args.image_size} {r['pack_frames_per_s']:.0f} frames/s (reads 6 keys); "
              f"decompressing every key of the same files {r['every_key_frames_per_s']:.0f} "
              f"frames/s; task_D_D's 512 k frames: {r['task_D_D_minutes']:.0f} min per split "
              "pass on one core")
        return 0
    data = PlayData(args.dataset, args.image_size)
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
