"""`lumos featurize`: world-model latents of every frame of a dataset, for agent training.

Per split, memory-mappable arrays (one row per frame, episode order, like the packed dataset):

- ``features.npy`` (N, feat_dim): s_t = (h_t, z_t) filtered over the whole recording with the
  true previous actions (z_t a sample from the posterior, as in the official featurizer);
- ``zero_features.npy`` (N, feat_dim): the history-free s_t -- the filter's first step on
  frame t after a reset (:meth:`WorldModel.start`: one posterior step with the zero previous
  action, plus ``filter_warmup`` holding steps), exactly the first step after a policy
  ``reset()``;
- ``rel_actions.npy``, ``frame_ids.npy``, ``segments.npy``;
- ``meta.json``: the world-model checkpoint (path, config, code version, weights checksum) and
  the dataset the features came from.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from lumos_core.checkpoint import WEIGHTS, load_checkpoint
from lumos_core.config import LumosConfig
from lumos_core.data.dataset import PlayData
from lumos_core.world_model import CAMERAS, ZERO_ACTION, WorldModel, to_torch

FEATURE_FILES = ("features", "zero_features", "rel_actions", "frame_ids", "segments")


def load_world_model(path: str | Path, device: str = "cpu") -> tuple[WorldModel, LumosConfig]:
    """A world model from a ``world_model`` or ``policy`` checkpoint."""
    ckpt = load_checkpoint(path, kind=("world_model", "policy"))
    cfg = ckpt.lumos_config()
    model = WorldModel(cfg.world_model)
    model.load_state_dict(ckpt.state_dict("world_model"))
    return model.to(device).eval(), cfg


def world_model_fingerprint(model: WorldModel) -> str:
    """sha256 of the world model's configuration and tensors (names, dtypes, shapes, values):
    equal for every checkpoint that holds this world model -- the world-model checkpoint and
    each policy exported on it -- whatever else they hold, so their features are one."""
    import dataclasses
    import hashlib

    digest = hashlib.sha256(json.dumps(dataclasses.asdict(model.cfg), sort_keys=True,
                                       default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"|{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def features_match(features: str | Path, checkpoint: str | Path,
                   dataset: str | Path | None = None) -> bool:
    """Features in ``features`` were computed by the world model ``checkpoint`` holds (the same
    tensors, from whichever checkpoint; before session 35: the same checkpoint file) and, when
    given, from ``dataset``."""
    meta = Path(features) / "meta.json"
    if not meta.is_file():
        return False
    have = json.loads(meta.read_text())
    if dataset is not None and have.get("dataset") != str(Path(dataset).resolve()):
        return False
    if "world_model_sha256" in have:
        return have["world_model_sha256"] == world_model_fingerprint(
            load_world_model(checkpoint)[0])
    from lumos_core.checkpoint import read_meta

    return have.get("weights_sha256") == read_meta(checkpoint)["files"][WEIGHTS]["sha256"]


def _keys(model: WorldModel) -> list[str]:
    return ["robot_obs"] + (["scene_obs"] if model.cfg.obs_mode == "state" else list(CAMERAS))


@torch.no_grad()
def featurize_split(model: WorldModel, data: PlayData, out_dir: Path, chunk: int = 64,
                    batch: int = 256, progress: bool = True) -> tuple[int, Path]:
    """Write the feature arrays of one split next to ``out_dir`` (a temporary directory that
    the caller renames into place); returns the frame count and that directory."""
    from tqdm import tqdm

    n, dim = len(data), model.cfg.feat_dim
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    feats = np.lib.format.open_memmap(tmp / "features.npy", "w+", np.float32, (n, dim))
    zeros = np.lib.format.open_memmap(tmp / "zero_features.npy", "w+", np.float32, (n, dim))
    keys = _keys(model)
    device = model.robot_mean.device
    zero = torch.tensor(ZERO_ACTION, device=device)
    segs = data.segments
    lengths = segs[:, 1] - segs[:, 0] + 1
    bar = tqdm(total=2 * n, desc=f"featurize {data.dir.name}", unit="frame",
               disable=not progress)
    # history-filtered: all recordings in parallel, time in chunks, state carried over chunks
    state = model.initial(len(segs))
    actions = np.asarray(data.arrays["rel_actions"])
    for t0 in range(0, int(lengths.max()), chunk):
        steps = np.arange(t0, min(t0 + chunk, int(lengths.max())))
        rows = np.minimum(segs[:, :1] + steps[None], segs[:, 1:])       # clamp past the end
        obs = to_torch(data.gather(rows, keys), device)
        prev_rows = np.maximum(rows - 1, 0)
        prev = torch.as_tensor(actions[prev_rows], device=device)
        is_first = torch.as_tensor(steps[None] == 0, device=device).expand(len(segs), -1)
        prev = torch.where(is_first[..., None], zero, prev)
        state, feat, _ = model.observe(state, obs, prev, is_first, prior=False)
        valid = steps[None] < lengths[:, None]
        feats[rows[valid]] = feat.cpu().numpy()[valid]
        bar.update(int(valid.sum()))
    # history-free: one posterior step per frame from the reset state
    for r0 in range(0, n, batch):
        rows = np.arange(r0, min(r0 + batch, n))
        obs = to_torch(data.gather(rows[:, None], keys), device)
        _, feat = model.start(obs)
        zeros[rows] = feat.cpu().numpy()
        bar.update(len(rows))
    bar.close()
    feats.flush()
    zeros.flush()
    np.save(tmp / "rel_actions.npy", actions.astype(np.float32))
    np.save(tmp / "frame_ids.npy", data.frame_ids)
    np.save(tmp / "segments.npy", data.segments)
    return n, tmp


def featurize(checkpoint: str | Path, dataset: str | Path, out: str | Path,
              device: str = "cpu", progress: bool = True, seed: int = 0) -> dict:
    """Featurize the training and validation splits of ``dataset`` into ``out``."""
    from lumos_core.data.calvin import DatasetError

    splits = [split for split in ("training", "validation") if (Path(dataset) / split).is_dir()]
    if not splits:
        raise DatasetError(f"--dataset {dataset}: not a CALVIN-format dataset (expected "
                           "training/ and/or validation/ split directories)")
    torch.manual_seed(seed)
    model, cfg = load_world_model(checkpoint, device)
    ckpt_meta = json.loads((Path(checkpoint) / "meta.json").read_text())
    out = Path(out)
    # absolute: trainings read the language windows from here, from whatever directory
    summary = {"checkpoint": str(Path(checkpoint).resolve()),
               "dataset": str(Path(dataset).resolve()),
               "feat_dim": cfg.world_model.feat_dim, "deter": cfg.world_model.deter,
               "code_version": ckpt_meta.get("code_version"),
               "weights_sha256": ckpt_meta["files"][WEIGHTS]["sha256"],
               "world_model_sha256": world_model_fingerprint(model),
               "config": ckpt_meta["config"], "seed": seed, "splits": {}}
    for split in splits:
        data = PlayData(Path(dataset) / split, cfg.data.image_size,
                        images=cfg.world_model.obs_mode == "vision", progress=progress)
        n, tmp = featurize_split(model, data, out / split, progress=progress)
        (tmp / "meta.json").write_text(json.dumps({**summary, "split": split, "frames": n}))
        shutil.rmtree(out / split, ignore_errors=True)
        os.replace(tmp, out / split)
        summary["splits"][split] = n
    (out / "meta.json").write_text(json.dumps(summary, indent=2))
    return summary


class Features:
    """Memory-mapped features of one split, as written by :func:`featurize`."""

    def __init__(self, split_dir: str | Path) -> None:
        self.dir = Path(split_dir)
        meta = self.dir / "meta.json"
        if not meta.exists():
            raise FileNotFoundError(f"{meta}: no features here (run `lumos featurize`)")
        self.meta = json.loads(meta.read_text())
        self.arrays = {}
        for name in FEATURE_FILES:
            path = self.dir / f"{name}.npy"
            if not path.exists():
                raise FileNotFoundError(f"{path}: feature file is missing")
            self.arrays[name] = np.load(path, mmap_mode="r")

    def __len__(self) -> int:
        return len(self.arrays["features"])

    def sample(self, rng: np.random.Generator, n: int = 20000) -> np.ndarray:
        """Filtered features of ``n`` random frames (all when fewer), in frame order."""
        rows = np.sort(rng.choice(len(self), min(len(self), n), replace=False))
        return np.asarray(self.arrays["features"][rows])
