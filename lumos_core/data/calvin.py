"""The CALVIN dataset format: writing episodes, language annotations and statistics.

A split directory (``training/`` or ``validation/``) holds

- ``episode_XXXXXXX.npz``: one frame each, keys ``rgb_static``, ``rgb_gripper`` (uint8 HxWx3),
  ``actions`` (7: absolute tcp position, euler, gripper), ``rel_actions`` (7, normalised),
  ``robot_obs`` (15), ``scene_obs`` (24; only a simulator has it);
- ``ep_start_end_ids.npy``: (N, 2) contiguous recordings, end inclusive;
- ``lang_annotations/auto_lang_ann.npy``: a pickled dict ``{"info": {"indx": [(start, end)]},
  "language": {"ann": [...], "task": [...], "emb": (N, 1, 384)}}``. In the file ``end`` is
  *exclusive*, as CALVIN's annotator writes it (``start + length``) and its loader reads it
  (windows start in ``range(start, end + 1 - min_window)`` and read ``window_size`` frames, so
  frame ``end`` is never read); files written here say so (``info["indx_end"]``) and name the
  sentence model of their embeddings (``info["language_model"]``). :func:`read_annotations`
  returns inclusive last frames whatever the file's convention; files of the first versions of
  this project (inclusive ends, no marker, episode metadata present) are read as inclusive;
- ``statistics.yaml``: normalisation statistics in CALVIN's layout.

Writes are crash-safe: an episode's frames are written under a temporary directory, moved into
place, and only then listed in ``ep_start_end_ids.npy`` (replaced atomically). Frames that are not
listed there are not part of the dataset, so a crash leaves every earlier episode intact.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import yaml

FRAME_KEYS = {
    "rgb_static": (np.uint8, None),
    "rgb_gripper": (np.uint8, None),
    "actions": (np.float32, (7,)),
    "rel_actions": (np.float32, (7,)),
    "robot_obs": (np.float32, (15,)),
    "scene_obs": (np.float32, None),
}
REQUIRED_KEYS = ("actions", "rel_actions", "robot_obs")
EP_IDS = "ep_start_end_ids.npy"
LANG_DIR = "lang_annotations"
LANG_FILE = "auto_lang_ann.npy"
STATS = "statistics.yaml"
META_DIR = "episode_meta"
STAT_KEYS = ("robot_obs", "scene_obs", "actions", "rel_actions")


class DatasetError(RuntimeError):
    """A dataset file is missing, damaged or of the wrong shape; the message names it."""


def frame_name(index: int) -> str:
    """File name of frame ``index``."""
    return f"episode_{index:07d}.npz"


def _atomic_save_npy(path: Path, array, allow_pickle: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=allow_pickle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_episode_ids(split_dir: str | Path) -> np.ndarray:
    """``ep_start_end_ids.npy`` of a split as an (N, 2) int array (empty if absent)."""
    path = Path(split_dir) / EP_IDS
    if not path.exists():
        return np.zeros((0, 2), dtype=np.int64)
    try:
        ids = np.load(path)
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    ids = np.asarray(ids, dtype=np.int64).reshape(-1, 2)
    if np.any(ids[:, 1] < ids[:, 0]):
        raise DatasetError(f"{path}: an episode ends before it starts")
    return ids


def validate_episode(frames: Mapping[str, np.ndarray]) -> int:
    """Check keys, dtypes and shapes of an episode's stacked frames; return its length."""
    missing = [k for k in REQUIRED_KEYS if k not in frames]
    if missing:
        raise DatasetError(f"episode is missing keys {missing}; required: {list(REQUIRED_KEYS)}")
    unknown = [k for k in frames if k not in FRAME_KEYS]
    if unknown:
        raise DatasetError(f"episode has unknown keys {unknown}; allowed: {list(FRAME_KEYS)}")
    length = len(frames["actions"])
    if length < 1:
        raise DatasetError("episode has no frames")
    for key, value in frames.items():
        dtype, shape = FRAME_KEYS[key]
        value = np.asarray(value)
        if len(value) != length:
            raise DatasetError(f"episode key {key!r} has {len(value)} frames, actions has "
                               f"{length}")
        if shape is not None and value.shape[1:] != shape:
            raise DatasetError(f"episode key {key!r} has frame shape {value.shape[1:]}, "
                               f"expected {shape}")
        if key.startswith("rgb") and (value.ndim != 4 or value.shape[-1] != 3
                                      or value.dtype != np.uint8):
            raise DatasetError(f"episode key {key!r} must be uint8 (T, H, W, 3), got "
                               f"{value.dtype} {value.shape}")
        if dtype is np.float32 and not np.all(np.isfinite(value)):
            raise DatasetError(f"episode key {key!r} contains NaN or inf")
    return length


class SplitWriter:
    """Appends complete episodes to one split directory of a CALVIN-format dataset."""

    def __init__(self, split_dir: str | Path) -> None:
        self.dir = Path(split_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob(".incoming-*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.episodes = read_episode_ids(self.dir)

    @property
    def next_index(self) -> int:
        """Frame index the next episode starts at."""
        return int(self.episodes[-1, 1]) + 1 if len(self.episodes) else 0

    def staging_dir(self) -> Path:
        """A fresh temporary directory inside the split (same filesystem: renames are atomic)."""
        path = self.dir / f".incoming-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    @staticmethod
    def write_frames(directory: Path, start: int, frames: Mapping[str, np.ndarray]) -> int:
        """Write stacked ``frames`` as npz files numbered from ``start``; returns the count."""
        length = validate_episode(frames)
        arrays = {k: np.asarray(v, dtype=FRAME_KEYS[k][0]) for k, v in frames.items()}
        for t in range(length):
            np.savez_compressed(directory / frame_name(start + t),
                                **{k: v[t] for k, v in arrays.items()})
        return length

    def commit(self, staged: Path, start: int, length: int,
               metadata: Mapping | None = None) -> tuple[int, int]:
        """Move staged frames ``start..start+length-1`` into the split and list the episode.

        ``metadata`` (JSON-serialisable) is stored as ``episode_meta/<start>.json`` before the
        episode is listed, so a listed episode always has its metadata.
        """
        if start != self.next_index:
            raise DatasetError(f"{self.dir}: episode must start at frame {self.next_index}, "
                               f"staged frames start at {start}")
        for t in range(start, start + length):
            src = staged / frame_name(t)
            if not src.exists():
                raise DatasetError(f"{src}: staged frame is missing")
            os.replace(src, self.dir / frame_name(t))
        if metadata is not None:
            (self.dir / META_DIR).mkdir(exist_ok=True)
            _atomic_write_text(self.dir / META_DIR / f"{start:07d}.json", json.dumps(metadata))
        end = start + length - 1
        self.episodes = np.concatenate([self.episodes, [[start, end]]]).astype(np.int64)
        _atomic_save_npy(self.dir / EP_IDS, self.episodes)
        shutil.rmtree(staged, ignore_errors=True)
        return start, end

    def write_episode(self, frames: Mapping[str, np.ndarray],
                      metadata: Mapping | None = None) -> tuple[int, int]:
        """Write and commit one episode; returns its (start, end) frame ids."""
        staged = self.staging_dir()
        try:
            start = self.next_index
            length = self.write_frames(staged, start, frames)
            return self.commit(staged, start, length, metadata)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise


def empty_annotations() -> dict:
    """An empty ``auto_lang_ann`` dict in CALVIN's structure."""
    return {"info": {"episodes": [], "indx": []},
            "language": {"ann": [], "task": [], "emb": np.zeros((0, 1, 384), np.float32)}}


#: the folder and sentence model of the language embeddings shipped with the CALVIN splits
CALVIN_LANG_DIR, CALVIN_LANG_MODEL = ("lang_paraphrase-MiniLM-L3-v2",
                                      "sentence-transformers/paraphrase-MiniLM-L3-v2")


def _file_convention(data: dict, split_dir: Path) -> str:
    """'exclusive' (CALVIN) or 'inclusive' (files of this project's first versions)."""
    marked = data["info"].get("indx_end")
    if marked in ("exclusive", "inclusive"):
        return marked
    if marked is not None:
        raise DatasetError(f"{split_dir}: auto_lang_ann.npy says indx_end={marked!r}; expected "
                           "'exclusive' or 'inclusive'")
    legacy = (split_dir / META_DIR).is_dir() and any((split_dir / META_DIR).iterdir())
    return "inclusive" if legacy else "exclusive"


def read_annotations(split_dir: str | Path) -> dict:
    """``lang_annotations/auto_lang_ann.npy`` (CALVIN also accepts ``<split>/auto_lang_ann.npy``
    and ``lang_paraphrase-MiniLM-L3-v2/``); an empty structure when there is none.

    ``info["indx"]`` comes back as (start, last) with the last frame *inclusive*;
    ``info["file_convention"]`` says how the file stored it, ``info["language_model"]`` the
    sentence model of ``emb`` (None when the file does not say and its folder does not tell).
    """
    split_dir = Path(split_dir)
    for candidate in (split_dir / LANG_DIR / LANG_FILE, split_dir / LANG_FILE,
                      split_dir / CALVIN_LANG_DIR / LANG_FILE):
        if candidate.exists():
            try:
                data = np.load(candidate, allow_pickle=True).item()
                data["info"]["indx"] = [tuple(int(v) for v in w) for w in data["info"]["indx"]]
                data["language"]["emb"] = np.asarray(data["language"]["emb"], np.float32)
                if data["language"]["emb"].ndim == 2:
                    data["language"]["emb"] = data["language"]["emb"][:, None]
            except (ValueError, OSError, EOFError, KeyError, TypeError, AttributeError) as exc:
                raise DatasetError(f"{candidate}: not a CALVIN language annotation file "
                                   f"({exc})") from exc
            if "task" not in data["language"]:
                data["language"]["task"] = ["annotated"] * len(data["language"]["ann"])
            sizes = {len(data["info"]["indx"]), len(data["language"]["ann"]),
                     len(data["language"]["task"]), len(data["language"]["emb"])}
            if len(sizes) != 1:
                raise DatasetError(f"{candidate}: indx, ann, task and emb differ in length")
            convention = _file_convention(data, split_dir)
            if convention == "exclusive":
                data["info"]["indx"] = [(s, e - 1) for s, e in data["info"]["indx"]]
            data["info"]["file_convention"] = convention
            model = data["info"].get("language_model")
            if model is None:
                if candidate.parent.name == CALVIN_LANG_DIR:
                    model = CALVIN_LANG_MODEL
                elif convention == "inclusive":         # this project's first versions
                    from lumos_core.language import MODEL_ID

                    model = MODEL_ID
            data["info"]["language_model"] = model
            return data
    return empty_annotations()


def windows_in_episodes(indx: Sequence[tuple[int, int]], episodes: np.ndarray
                        ) -> np.ndarray:
    """Indices of the (start, last-inclusive) windows that lie inside one listed episode.
    The one rule for every reader: a window that runs past its episode (or starts outside
    any) is skipped and counted by the caller, never an error for the whole split."""
    episodes = np.asarray(episodes, np.int64).reshape(-1, 2)
    if not len(indx):
        return np.zeros(0, np.int64)
    order = np.argsort(episodes[:, 0])
    starts, ends = episodes[order, 0], episodes[order, 1]
    w = np.asarray(indx, np.int64).reshape(-1, 2)
    k = np.searchsorted(starts, w[:, 0], side="right") - 1
    ok = (k >= 0) & (w[:, 1] >= w[:, 0])
    ok[ok] &= w[ok, 1] <= ends[k[ok]]
    return np.flatnonzero(ok)


def append_annotations(split_dir: str | Path, windows: Sequence[tuple[int, int]],
                       texts: Sequence[str], tasks: Sequence[str],
                       embeddings: np.ndarray, language_model: str | None = None) -> int:
    """Append annotated windows, given as (start, last) with the last frame inclusive, to
    ``auto_lang_ann.npy`` (atomic; written in CALVIN's end-exclusive form); returns the new
    count. ``language_model`` (default: this project's encoder) must be the model of the
    file's existing embeddings."""
    from lumos_core.language import MODEL_ID

    if not len(windows) == len(texts) == len(tasks) == len(embeddings):
        raise ValueError("windows, texts, tasks and embeddings must have the same length")
    split_dir = Path(split_dir)
    language_model = language_model or MODEL_ID
    data = read_annotations(split_dir)
    existing_model = data["info"].get("language_model")
    if data["info"]["indx"] and existing_model not in (None, language_model):
        raise DatasetError(f"{split_dir}: its language embeddings come from {existing_model}; "
                           f"new ones from {language_model} cannot join them")
    data["info"]["indx"] += [(int(s), int(e)) for s, e in windows]
    data["language"]["ann"] += list(texts)
    data["language"]["task"] += list(tasks)
    emb = np.asarray(embeddings, np.float32).reshape(len(windows), 1, -1)
    if len(emb):
        old = data["language"]["emb"].reshape(-1, 1, emb.shape[-1])
        data["language"]["emb"] = np.concatenate([old, emb])
    data["info"]["indx"] = [(s, e + 1) for s, e in data["info"]["indx"]]   # end exclusive
    data["info"]["indx_end"] = "exclusive"
    data["info"]["language_model"] = language_model
    data["info"].pop("file_convention", None)
    (split_dir / LANG_DIR).mkdir(exist_ok=True)
    _atomic_save_npy(split_dir / LANG_DIR / LANG_FILE, np.array(data, dtype=object),
                     allow_pickle=True)
    return len(data["info"]["indx"])


def _normalizer(mean, std) -> list[dict]:
    return [{"_target_": "calvin_models.calvin_agent.utils.transforms.NormalizeVector",
             "mean": [float(v) for v in mean], "std": [float(v) for v in std]}]


def canonical_robot_obs(robot_obs):
    """robot_obs with the TCP roll (index 3) taken modulo 2 pi.

    A gripper pointing down has roll near +-pi: the raw value jumps between -3.14 and 3.14 at
    the slightest tilt (normalisation std 3.08 on play data), so a model would see a step of
    two units for a rotation of a fraction of a degree. Modulo 2 pi it is continuous around pi.
    Works on numpy arrays and torch tensors of shape (..., 15); returns a copy.
    """
    out = robot_obs.clone() if hasattr(robot_obs, "clone") else np.array(robot_obs, copy=True)
    out[..., 3] = out[..., 3] % (2 * math.pi)
    return out


SCENE_DIM = 24
BLOCK_YAW_INDICES = (11, 17, 23)  # scene_obs: 6 fixture/light values, then per block pos + euler


def canonical_scene_obs(scene_obs):
    """scene_obs with each block's yaw taken modulo pi, in [-pi/2, pi/2).

    The blocks are boxes: a half-turn about the vertical leaves one looking, and grasped,
    exactly as before, but the raw yaw of a block that play has rotated lies anywhere in
    (-pi, pi] (13 % of play frames outside +-pi/2), so the same block pose has two values and
    the grasp yaw the expert turns to -- the block's yaw modulo pi -- is a discontinuous
    function of the raw input. Modulo pi it is the input itself. Numpy arrays and torch
    tensors of shape (..., 24); returns a copy.
    """
    out = scene_obs.clone() if hasattr(scene_obs, "clone") else np.array(scene_obs, copy=True)
    for i in BLOCK_YAW_INDICES:
        out[..., i] = (out[..., i] + math.pi / 2) % math.pi - math.pi / 2
    return out


def moments(frames: Mapping[str, np.ndarray]) -> dict[str, dict[str, list]]:
    """Per-key count, sum, sum of squares, min and max of an episode (JSON-serialisable);
    robot_obs and scene_obs in their canonical forms (:func:`canonical_robot_obs`,
    :func:`canonical_scene_obs`), as the models see them."""
    out = {}
    for key in STAT_KEYS:
        if key in frames:
            x = np.asarray(frames[key], np.float64)
            if key == "robot_obs":
                x = canonical_robot_obs(x)
            elif key == "scene_obs" and x.shape[-1] == SCENE_DIM:
                x = canonical_scene_obs(x)
            out[key] = {"n": len(x), "sum": x.sum(0).tolist(), "sumsq": (x ** 2).sum(0).tolist(),
                        "min": x.min(0).tolist(), "max": x.max(0).tolist()}
    return out


def merge_moments(parts: Sequence[Mapping[str, Mapping]]) -> dict[str, dict[str, np.ndarray]]:
    """Mean, std, min and max per key from several :func:`moments`."""
    out = {}
    for key in STAT_KEYS:
        items = [p[key] for p in parts if key in p]
        if not items:
            continue
        n = sum(i["n"] for i in items)
        total = np.sum([i["sum"] for i in items], 0)
        sumsq = np.sum([i["sumsq"] for i in items], 0)
        mean = total / n
        out[key] = {"mean": mean, "std": np.sqrt(np.maximum(sumsq / n - mean ** 2, 0.0)),
                    "min": np.min([i["min"] for i in items], 0),
                    "max": np.max([i["max"] for i in items], 0)}
    return out


def write_statistics(split_dir: str | Path, stats: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Write ``statistics.yaml`` the way CALVIN does -- a NormalizeVector (mean/std) per
    observation key and the bounds of the absolute actions -- plus ``rel_actions``."""
    out = {}
    for key in ("robot_obs", "scene_obs", "rel_actions"):
        if key in stats:
            out[key] = _normalizer(stats[key]["mean"], stats[key]["std"])
    out["act_min_bound"] = [float(v) for v in stats["actions"]["min"]]
    out["act_max_bound"] = [float(v) for v in stats["actions"]["max"]]
    _atomic_write_text(Path(split_dir) / STATS, yaml.safe_dump(out, sort_keys=False))


def read_episode_meta(split_dir: str | Path) -> list[dict]:
    """Metadata of every listed episode (those written with metadata), in order."""
    split_dir = Path(split_dir)
    metas = []
    for start, _ in read_episode_ids(split_dir):
        path = split_dir / META_DIR / f"{start:07d}.json"
        if path.exists():
            metas.append(json.loads(path.read_text()))
    return metas


def read_statistics(split_dir: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """``{key: {"mean", "std"}}`` from a CALVIN ``statistics.yaml``; a zero std becomes 1."""
    path = Path(split_dir) / STATS
    if not path.exists():
        raise DatasetError(f"{path}: statistics file is missing (run `lumos collect`, or copy "
                           "CALVIN's statistics.yaml into the split)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: not valid YAML ({exc})") from exc
    out = {}
    for key, value in (raw or {}).items():
        entry = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) \
            else value
        if isinstance(entry, dict) and "mean" in entry and "std" in entry:
            std = np.asarray(entry["std"], np.float32)
            out[key] = {"mean": np.asarray(entry["mean"], np.float32),
                        "std": np.where(std > 1e-6, std, 1.0).astype(np.float32)}
    return out
