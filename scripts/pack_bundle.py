#!/usr/bin/env python3
"""Move a packed dataset to a machine without the simulator (e.g. a GPU box) in little space.

Simulator frames compress ~20x (flat colours), so the packed arrays of a CALVIN-format dataset
are written as xz-compressed .npy files with the split's episode list, statistics and language
annotations; `unpack` restores a split directory that PlayData opens without the frame files.

    python scripts/pack_bundle.py pack data/sim_play bundle/ --image-size 64 [--max-frames N]
    python scripts/pack_bundle.py unpack bundle/ data/sim_play
"""

import argparse
import json
import lzma
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lumos_core.data.calvin import EP_IDS, LANG_DIR, STATS  # noqa: E402
from lumos_core.data.dataset import (PlayData, frame_files_signature,  # noqa: E402
                                     pack_fingerprint)

SPLITS = ("training", "validation")


def pack(root: Path, out: Path, image_size: int, max_frames: int | None) -> None:
    """Write each split's packed arrays (first episodes up to ``max_frames``) compressed."""
    for split in SPLITS:
        if not (root / split).exists():
            continue
        data = PlayData(root / split, image_size)
        episodes = data.episodes
        if max_frames is not None:
            keep = np.cumsum(episodes[:, 1] - episodes[:, 0] + 1) <= max_frames
            episodes = episodes[: max(int(keep.sum()), 1)]
        rows = int((episodes[:, 1] - episodes[:, 0] + 1).sum())
        dst = out / split
        dst.mkdir(parents=True, exist_ok=True)
        np.save(dst / EP_IDS, episodes)
        for name in (STATS,):
            shutil.copy2(root / split / name, dst / name)
        if (root / split / LANG_DIR).exists():
            shutil.copytree(root / split / LANG_DIR, dst / LANG_DIR, dirs_exist_ok=True)
        for key, array in data.arrays.items():
            with lzma.open(dst / f"{key}.npy.xz", "wb", preset=1) as handle:
                np.save(handle, np.asarray(array[:rows]))
        (dst / "bundle.json").write_text(json.dumps({"image_size": image_size, "rows": rows,
                                                     "keys": list(data.arrays)}))
        size = sum(p.stat().st_size for p in dst.iterdir() if p.is_file())
        print(f"{split}: {rows} frames, {size / 2 ** 20:.1f} MiB")


def unpack(bundle: Path, root: Path) -> None:
    """Restore split directories with ready packed arrays."""
    for split in SPLITS:
        src = bundle / split
        if not src.exists():
            continue
        info = json.loads((src / "bundle.json").read_text())
        dst = root / split
        pack_dir = dst / f"packed_{info['image_size']}"
        pack_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / EP_IDS, dst / EP_IDS)
        shutil.copy2(src / STATS, dst / STATS)
        if (src / LANG_DIR).exists():
            shutil.copytree(src / LANG_DIR, dst / LANG_DIR, dirs_exist_ok=True)
        for key in info["keys"]:
            with lzma.open(src / f"{key}.npy.xz", "rb") as handle:
                np.save(pack_dir / f"{key}.npy", np.load(handle))
        fingerprint = {**pack_fingerprint(np.load(dst / EP_IDS), info["image_size"]),
                       "files": frame_files_signature(dst)}
        (pack_dir / "meta.json").write_text(json.dumps({"fingerprint": fingerprint,
                                                        "keys": info["keys"]}))
        print(f"{split}: {info['rows']} frames -> {dst}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("pack")
    p.add_argument("root", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--max-frames", type=int, default=None)
    u = sub.add_parser("unpack")
    u.add_argument("bundle", type=Path)
    u.add_argument("root", type=Path)
    args = parser.parse_args()
    if args.action == "pack":
        pack(args.root, args.out, args.image_size, args.max_frames)
    else:
        unpack(args.bundle, args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
