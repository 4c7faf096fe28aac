"""Fast reading of CALVIN-format splits (the simulator's and the real CALVIN dataset's).

Opening one npz per frame per epoch is slow (CALVIN task_D_D has ~600 k frames), so a split is
packed once into memory-mapped ``.npy`` arrays -- images resized to the model's resolution with
INTER_AREA, as the official preprocessing does -- under ``<split>/packed_<size>/``. The pack is
rebuilt when the episode list, the image size, the keys or the frame files (count, sizes,
modification times) change. Extra keys of the real dataset
(depth, tactile) are ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from lumos_core.data.calvin import (DatasetError, frame_name, read_annotations,
                                    read_episode_ids, read_statistics, windows_in_episodes)

PACK_VERSION = 1
VECTOR_KEYS = ("actions", "rel_actions", "robot_obs", "scene_obs")
IMAGE_KEYS = ("rgb_static", "rgb_gripper")


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an HxWx3 uint8 image to size x size with INTER_AREA (no-op at that size)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    import cv2

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def pack_fingerprint(episodes: np.ndarray, image_size: int | None) -> dict:
    """What a pack was built from: the episode list and the image size (None: no images)."""
    episodes = np.asarray(episodes, dtype=np.int64).reshape(-1, 2)
    return {"version": PACK_VERSION,
            "episodes": hashlib.sha256(episodes.tobytes()).hexdigest()[:16],
            "frames": int((episodes[:, 1] - episodes[:, 0] + 1).sum()), "image_size": image_size}


def frame_files_signature(directory: str | Path) -> str:
    """Count, total size and newest modification time of a split's frame files
    (``episode_*.npz``), part of a pack's fingerprint; "0:0:0" for a split that has none (a
    bundle unpacked by scripts/pack_bundle.py)."""
    count, size, newest = 0, 0, 0
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith("episode_") and entry.name.endswith(".npz"):
                st = entry.stat()
                count, size, newest = count + 1, size + st.st_size, max(newest, st.st_mtime_ns)
    return f"{count}:{size}:{newest}"


def _load_frame(path: Path, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of one frame file (all when None). An npz member is decompressed
    only when read: CALVIN frames also hold depth and tactile arrays that packing never uses."""
    try:
        with np.load(path) as data:
            return {k: data[k] for k in (data.files if keys is None else keys)
                    if k in data.files}
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: frame file is missing") from exc
    except Exception as exc:  # noqa: BLE001 - zip/pickle errors of damaged files vary
        raise DatasetError(f"{path}: frame file is damaged ({exc})") from exc


class PlayData:
    """One split, packed into memory-mapped arrays with one row per frame (episode order)."""

    def __init__(self, split_dir: str | Path, image_size: int = 64, images: bool = True,
                 progress: bool = True) -> None:
        self.dir = Path(split_dir)
        if not self.dir.is_dir():
            raise DatasetError(f"{self.dir}: dataset split directory does not exist")
        self.episodes = read_episode_ids(self.dir)
        if not len(self.episodes):
            raise DatasetError(f"{self.dir}: no episodes (ep_start_end_ids.npy missing or empty)")
        self.image_size = image_size
        self.images = images
        self.frame_ids = np.concatenate([np.arange(s, e + 1) for s, e in self.episodes])
        lengths = self.episodes[:, 1] - self.episodes[:, 0] + 1
        ends = np.cumsum(lengths)
        #: (row_start, row_end) inclusive per episode
        self.segments = np.stack([ends - lengths, ends - 1], 1)
        self._row = {int(f): i for i, f in enumerate(self.frame_ids)}
        self.arrays = self._open_pack(progress)

    # --- packing -----------------------------------------------------------------------------
    def _fingerprint(self) -> dict:
        return {**pack_fingerprint(self.episodes, self.image_size if self.images else None),
                "files": self._frame_files_signature()}

    def _frame_files_signature(self) -> str:
        """Count, total size and newest modification time of the frame files: a frame deleted,
        added, rewritten or changed in size since packing changes it (and the pack is
        rebuilt). One directory scan (~1 s per 100 k frames)."""
        if getattr(self, "_signature", None):
            return self._signature
        self._signature = frame_files_signature(self.dir)
        return self._signature

    @property
    def pack_dir(self) -> Path:
        """Where the packed arrays of this split and resolution live."""
        return self.dir / (f"packed_{self.image_size}" if self.images else "packed_state")

    def _current_pack_meta(self) -> dict | None:
        """The pack's meta.json when the pack was built from these episodes, else None."""
        try:
            meta = json.loads((self.pack_dir / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        return meta if meta.get("fingerprint") == self._fingerprint() else None

    def _open_pack(self, progress: bool) -> dict[str, np.ndarray]:
        meta = self._current_pack_meta()
        if meta is not None:
            return {k: np.load(self.pack_dir / f"{k}.npy", mmap_mode="r") for k in meta["keys"]}
        if (self.pack_dir / "meta.json").exists() and progress:
            import sys

            print(f"{self.pack_dir}: the frame files or episodes changed since it was packed; "
                  "packing again", file=sys.stderr)
        self.pack_seconds = self._pack(progress)
        return self._open_pack(progress)

    def _pack(self, progress: bool) -> float:
        from tqdm import tqdm

        start = time.perf_counter()
        first = _load_frame(self.dir / frame_name(int(self.frame_ids[0])),
                            list(VECTOR_KEYS) + (list(IMAGE_KEYS) if self.images else []))
        keys = [k for k in VECTOR_KEYS if k in first]
        if self.images:
            missing = [k for k in IMAGE_KEYS if k not in first]
            if missing:
                raise DatasetError(f"{self.dir / frame_name(int(self.frame_ids[0]))}: no "
                                   f"{missing} (a vision model needs both cameras)")
            keys += list(IMAGE_KEYS)
        for key in ("actions", "rel_actions", "robot_obs"):
            if key not in first:
                raise DatasetError(f"{self.dir / frame_name(int(self.frame_ids[0]))}: key "
                                   f"{key!r} is missing")
        tmp = self.dir / f".{self.pack_dir.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        n = len(self.frame_ids)
        out = {}
        for key in keys:
            if key in IMAGE_KEYS:
                shape, dtype = (n, self.image_size, self.image_size, 3), np.uint8
            else:
                shape, dtype = (n,) + first[key].shape, np.float32
            out[key] = np.lib.format.open_memmap(tmp / f"{key}.npy", "w+", dtype, shape)
        try:
            for row, fid in enumerate(tqdm(self.frame_ids, desc=f"pack {self.dir.name}",
                                           unit="frame", disable=not progress)):
                path = self.dir / frame_name(int(fid))
                frame = _load_frame(path, keys)
                for key in keys:
                    if key not in frame:
                        raise DatasetError(f"{path}: key {key!r} is missing")
                    value = frame[key]
                    if key in IMAGE_KEYS:
                        value = resize(value, self.image_size)
                    if value.shape != out[key].shape[1:]:
                        raise DatasetError(f"{path}: {key} has shape {value.shape}, expected "
                                           f"{out[key].shape[1:]}")
                    out[key][row] = value
            for array in out.values():
                array.flush()
            (tmp / "meta.json").write_text(json.dumps({"fingerprint": self._fingerprint(),
                                                       "keys": keys}))
            self._publish_pack(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return time.perf_counter() - start

    def _publish_pack(self, tmp: Path) -> None:
        """Move a finished pack into place. Several processes (DDP ranks) may pack the same
        split at once: whoever comes second keeps the first one's pack when it is current."""
        if self.pack_dir.exists():
            if self._current_pack_meta() is not None:
                shutil.rmtree(tmp, ignore_errors=True)
                return
            stale = self.dir / f".{self.pack_dir.name}.stale-{os.getpid()}"
            try:
                os.replace(self.pack_dir, stale)        # out of the way, atomically
            except FileNotFoundError:
                pass
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(tmp, self.pack_dir)
        except OSError:                                  # another process published meanwhile
            if self._current_pack_meta() is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)

    # --- access ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frame_ids)

    @property
    def keys(self) -> list[str]:
        """Keys available per frame."""
        return list(self.arrays)

    def row(self, frame_id: int) -> int:
        """Row of a frame id."""
        try:
            return self._row[int(frame_id)]
        except KeyError as exc:
            raise DatasetError(f"{self.dir}: frame {frame_id} is not in any episode") from exc

    def valid_starts(self, length: int) -> np.ndarray:
        """Rows where a window of ``length`` frames fits inside one episode."""
        starts = [np.arange(s, e - length + 2) for s, e in self.segments if e - s + 1 >= length]
        if not starts:
            raise DatasetError(f"{self.dir}: no episode has {length} frames")
        return np.concatenate(starts)

    def is_first(self, rows: np.ndarray) -> np.ndarray:
        """True for rows that start an episode."""
        return np.isin(rows, self.segments[:, 0])

    def window(self, start: int, length: int, keys: Sequence[str] | None = None
               ) -> dict[str, np.ndarray]:
        """``length`` consecutive rows from ``start`` (copies, not views of the memmap)."""
        keys = keys or self.keys
        return {k: np.array(self.arrays[k][start:start + length]) for k in keys}

    def batch(self, starts: Sequence[int], length: int, keys: Sequence[str] | None = None
              ) -> dict[str, np.ndarray]:
        """Windows stacked to (B, T, ...), plus ``is_first`` (B, T)."""
        rows = np.asarray(starts)[:, None] + np.arange(length)[None]
        out = self.gather(rows, keys or self.keys)
        out["is_first"] = self.is_first(rows)
        return out

    def gather(self, rows: np.ndarray, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Arrays of ``keys`` at packed ``rows`` of any shape: ``rows.shape + item shape``."""
        rows = np.asarray(rows)
        return {k: np.asarray(self.arrays[k][rows.ravel()]).reshape(rows.shape +
                                                                    self.arrays[k].shape[1:])
                for k in keys}

    def statistics(self) -> dict[str, dict[str, np.ndarray]]:
        """Normalisation statistics from ``statistics.yaml`` (CALVIN layout)."""
        return read_statistics(self.dir)

    def language(self) -> dict:
        """Annotated windows as rows: ``rows`` (N, 2) inclusive, ``ann``, ``task``, ``emb``,
        ``skipped`` (windows outside any episode, left out and reported once)."""
        data = read_annotations(self.dir)
        indx = data["info"]["indx"]
        keep = windows_in_episodes(indx, self.episodes)
        skipped = len(indx) - len(keep)
        if skipped:
            import sys

            print(f"{self.dir}: {skipped} of {len(indx)} language windows run past their "
                  "episode and are skipped", file=sys.stderr)
        rows = np.array([(self.row(indx[i][0]), self.row(indx[i][1])) for i in keep],
                        dtype=np.int64).reshape(-1, 2)
        lang = data["language"]
        return {"rows": rows, "ann": [lang["ann"][i] for i in keep],
                "task": [lang["task"][i] for i in keep], "emb": lang["emb"][keep, 0],
                "skipped": skipped, "language_model": data["info"].get("language_model")}
