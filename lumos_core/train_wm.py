"""`lumos train-wm`: train the world model on a CALVIN-format dataset.

Batches are random windows of ``seq_len`` frames inside one recording (the documented
alternative to the official 50-stream truncated BPTT): each window starts from the reset state
with the zero previous action, exactly as a filter does after ``reset()``. AdamW; gradients are
clipped *after* unscaling (the official code clips AMP-scaled gradients); ``wm_train.precision``
picks fp32 or bf16/fp16 autocast (:mod:`lumos_core.precision`: bf16 by default for vision models
on GPUs and on CPUs with native bf16). Logs go to ``metrics.jsonl`` and TensorBoard;
checkpoints (with optimiser, scaler and RNG state) every ``checkpoint_every`` updates and at the
end; ``--resume`` continues exactly where the latest checkpoint stopped.

Distributed: under ``torchrun --nproc_per_node=N`` every rank trains a DDP replica on its own
batches (NCCL on GPUs, gloo on CPU); rank 0 logs, validates and writes checkpoints.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from lumos_core.checkpoint import load_checkpoint, save_checkpoint
from lumos_core.compile import compile_modules, wants_compile, world_model_hot_modules
from lumos_core.config import LumosConfig
from lumos_core.cuda_graph import CapturedStep, wants_graph
from lumos_core.data.dataset import PlayData
from lumos_core.precision import autocast, autocast_dtype
from lumos_core.runs import check_resume_config, load_optimizer, truncate_metrics
from lumos_core.world_model import WorldModel, previous_actions, scalars, to_torch

CHECKPOINTS = "checkpoints"


def vector_keys(cfg: LumosConfig) -> list[str]:
    """Dataset keys the world model reads."""
    keys = ["rel_actions", "robot_obs"]
    if cfg.world_model.obs_mode == "state":
        keys.append("scene_obs")
    else:
        keys += ["rgb_static", "rgb_gripper"]
    return keys


def open_split(cfg: LumosConfig, split: str, progress: bool = True) -> PlayData:
    """A split of ``cfg.data.dataset`` packed for this model."""
    return PlayData(Path(cfg.data.dataset) / split, cfg.data.image_size,
                    images=cfg.world_model.obs_mode == "vision", progress=progress)


def make_batch(data: PlayData, starts: np.ndarray, cfg: LumosConfig,
               device: torch.device) -> dict:
    """Tensors for :meth:`WorldModel.loss` from window starts."""
    raw = to_torch(data.batch(starts, cfg.wm_train.seq_len, vector_keys(cfg)), device)
    is_first = raw.pop("is_first")
    is_first[:, 0] = True
    prev = previous_actions(raw.pop("rel_actions"), is_first)
    return {"obs": raw, "prev_action": prev, "is_first": is_first}


#: a disabled GradScaler: scale, unscale_, step and update pass straight through (no state)
NO_SCALING = torch.amp.GradScaler("cuda", enabled=False)


def wm_update(model: WorldModel, opt: torch.optim.Optimizer, obs: dict,
              prev_action: torch.Tensor, is_first: torch.Tensor, *, dtype: torch.dtype | None,
              grad_clip: float, overshoot: tuple[int, float] = (0, 1.0),
              scaler: torch.amp.GradScaler | None = None, module: torch.nn.Module | None = None,
              cache: bool = True) -> dict[str, torch.Tensor]:
    """One world-model update -- loss under ``dtype`` autocast, backward, gradient clipping,
    optimiser step -- with the gradients zeroed by the caller; ``module``: a DDP wrapper of
    ``model`` to run the loss through. Returns the metrics as detached tensors: nothing in it
    waits for the device, so that on CUDA it is captured whole
    (:class:`~lumos_core.cuda_graph.CapturedStep`, which needs ``cache=False``)."""
    with autocast(obs["robot_obs"].device.type, dtype, cache=cache):
        loss, metrics, _ = (module or model)(obs, prev_action, is_first, None, *overshoot,
                                             False)
    scaler = scaler or NO_SCALING
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(opt)
    scaler.update()
    metrics["grad_norm"] = grad_norm.detach()
    return metrics


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest ``checkpoints/step_*`` of a run."""
    found = sorted((Path(run_dir) / CHECKPOINTS).glob("step_*"))
    return found[-1] if found else None


class DistInfo:
    """Rank/world size under torchrun, or a single process."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1

    def init(self, device: torch.device) -> None:
        """Join the process group (NCCL on CUDA, gloo on CPU)."""
        if self.enabled and not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend)

    @property
    def main(self) -> bool:
        """True on the rank that logs and writes checkpoints."""
        return self.rank == 0


def pick_device(name: str | None, dist: DistInfo) -> torch.device:
    """``cuda:<local rank>`` when available (or asked for), else CPU."""
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device(f"cuda:{dist.local_rank}")
    return torch.device("cpu")


class WorldModelTrainer:
    """Owns model, optimiser, data sampling and the run directory."""

    def __init__(self, cfg: LumosConfig, run_dir: str | Path, device: str | None = None,
                 progress: bool = True) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.dist = DistInfo()
        self.device = pick_device(device, self.dist)
        self.dist.init(self.device)
        self.progress = progress and self.dist.main
        torch.manual_seed(cfg.wm_train.seed + self.dist.rank)
        self.rng = np.random.default_rng(cfg.wm_train.seed + self.dist.rank)
        self.train = open_split(cfg, "training", self.progress)
        val_dir = Path(cfg.data.dataset) / "validation"
        self.val = open_split(cfg, "validation", self.progress) if val_dir.exists() else None
        self.model = WorldModel(cfg.world_model).to(self.device)
        self.model.set_normalization(self.train.statistics())
        self.compiled = wants_compile(cfg.wm_train.compile, self.device, "world-model training")
        if self.compiled:   # in place: the checkpoints' weights and keys stay the eager ones
            compile_modules(world_model_hot_modules(self.model))
        self.ddp = (torch.nn.parallel.DistributedDataParallel(
            self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            if self.dist.enabled else None)
        t = cfg.wm_train
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=t.lr, eps=t.eps,
                                     weight_decay=t.weight_decay)
        self.amp_dtype = autocast_dtype(t.precision, self.device, cfg.world_model.obs_mode)
        # fp16 needs loss scaling; bf16 has fp32's exponent range and does not
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        # on CUDA the whole step is captured once and replayed (lumos_core/cuda_graph.py)
        self.captured = (CapturedStep(self._update, list(self.model.parameters()), self.opt)
                         if wants_graph(t.cuda_graph, self.device, distributed=self.dist.enabled,
                                        dtype=self.amp_dtype, compiled=self.compiled)
                         else None)
        self.starts = self.train.valid_starts(t.seq_len)
        self.step = 0
        self.writer = None
        self.initialised_from: str | None = None

    # --- state -------------------------------------------------------------------------------
    def training_state(self) -> dict:
        """Everything needed to continue exactly."""
        return {"step": self.step, "optimizer": self.opt.state_dict(),
                "scaler": self.scaler.state_dict(), "torch_rng": torch.get_rng_state(),
                "numpy_rng": json.dumps(self.rng.bit_generator.state)}

    def save(self, name: str | None = None, resumable: bool = True) -> Path:
        """Write a checkpoint (rank 0 only); ``resumable=False`` leaves out the optimiser and
        RNG state (a deployable copy, a third of the size)."""
        path = self.run_dir / CHECKPOINTS / (name or f"step_{self.step:08d}")
        save_checkpoint(path, kind="world_model", modules={"world_model": self.model},
                        config=self.cfg, normalization=self.model.normalization(),
                        extra={"step": self.step, "dataset": str(self.cfg.data.dataset),
                               "initialised_from": self.initialised_from},
                        training_state=self.training_state() if resumable else None)
        return path

    def resume(self, path: str | Path | None = None) -> None:
        """Continue from ``path`` or the run's latest checkpoint."""
        path = Path(path) if path else latest_checkpoint(self.run_dir)
        if path is None:
            raise FileNotFoundError(f"{self.run_dir / CHECKPOINTS}: no checkpoint to resume")
        ckpt = load_checkpoint(path, kind="world_model")
        check_resume_config(path, ckpt.lumos_config().to_dict(), self.cfg.to_dict(),
                            ("world_model",))
        self.model.load_state_dict(ckpt.state_dict("world_model"))
        state = ckpt.training_state()
        if state is None:
            raise FileNotFoundError(f"{path}: has no training state; cannot resume")
        load_optimizer(self.opt, state["optimizer"], self.cfg.wm_train.lr)
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        self.step = int(state["step"])
        if self.dist.main:
            truncate_metrics(self.run_dir, self.step)

    def init_from(self, path: str | Path) -> str:
        """Start this (new) run from the world-model weights of checkpoint ``path`` (a world
        model's or a policy's, e.g. the world model inside a shipped policy, which keeps no
        optimiser state): fine-tuning with another loss (``wm_train.overshoot``) or on new
        play (a real robot's after the simulator's). The world-model configuration must be
        the checkpoint's; the weights come with the normalisation they were trained with (the
        checkpoint's, not this dataset's statistics); the optimiser starts fresh and the run
        counts its own steps from 0. Returns a one-line summary."""
        ckpt = load_checkpoint(path, kind=("world_model", "policy"))
        check_resume_config(path, ckpt.lumos_config().to_dict(), self.cfg.to_dict(),
                            ("world_model",), what="--init-from")
        self.model.load_state_dict(ckpt.state_dict("world_model"))
        self.initialised_from = str(path)
        return (f"the world model of a {ckpt.kind} checkpoint (its normalisation; fresh "
                "optimiser)")

    def _overshoot(self) -> tuple[int, float]:
        """The loss's multi-step arguments (``wm_train.overshoot``, ``overshoot_scale``)."""
        return self.cfg.wm_train.overshoot, self.cfg.wm_train.overshoot_scale

    # --- loop --------------------------------------------------------------------------------
    def train_step(self) -> dict:
        """One update on a fresh batch of random windows."""
        batch = make_batch(self.train, self.rng.choice(self.starts, self.cfg.wm_train.batch_size),
                           self.cfg, self.device)
        self.model.train()
        inputs = (batch["obs"], batch["prev_action"], batch["is_first"])
        if self.captured is not None:
            metrics = self.captured(*inputs)
        else:
            self.opt.zero_grad(set_to_none=True)
            metrics = self._update(*inputs)
        self.step += 1
        return scalars(metrics)

    def _update(self, obs: dict, prev_action: torch.Tensor, is_first: torch.Tensor) -> dict:
        """:func:`wm_update` with this run's model, optimiser and settings (on CUDA captured
        whole, :class:`~lumos_core.cuda_graph.CapturedStep`)."""
        return wm_update(self.model, self.opt, obs, prev_action, is_first,
                         dtype=self.amp_dtype, grad_clip=self.cfg.wm_train.grad_clip,
                         overshoot=self._overshoot(), scaler=self.scaler, module=self.ddp,
                         cache=self.captured is None or self.captured.eager)

    def _stop_at(self, deadline: float) -> bool:
        """Every rank stops at the same step: rank 0's clock decides."""
        stop = torch.tensor([float(time.monotonic() >= deadline)], device=self.device)
        if self.dist.enabled:
            torch.distributed.broadcast(stop, 0)
        return bool(stop.item())

    @torch.no_grad()
    def validate(self, batches: int = 4, data: PlayData | None = None) -> dict:
        """Mean loss over fixed windows (the same every time) of ``data`` (default: the
        validation split, or training when there is none)."""
        data = data or self.val or self.train
        rng = np.random.default_rng(12345)
        starts = data.valid_starts(self.cfg.wm_train.seq_len)
        self.model.eval()
        state = torch.get_rng_state()
        torch.manual_seed(0)
        totals: dict[str, float] = {}
        for _ in range(batches):
            batch = make_batch(data, rng.choice(starts, self.cfg.wm_train.batch_size), self.cfg,
                               self.device)
            _, metrics, _ = self.model(batch["obs"], batch["prev_action"], batch["is_first"],
                                       None, *self._overshoot())
            for k, v in metrics.items():
                totals[k] = totals.get(k, 0.0) + v / batches
        torch.set_rng_state(state)
        return totals

    def log(self, tag: str, metrics: dict) -> None:
        """Append to metrics.jsonl and TensorBoard (rank 0)."""
        if not self.dist.main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps({"step": self.step, "tag": tag, "time": time.time(),
                                     **metrics}) + "\n")
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tensorboard"))
        for key, value in metrics.items():
            self.writer.add_scalar(f"{tag}/{key}", value, self.step)

    def fit(self, steps: int | None = None, report=None,
            max_minutes: float | None = None) -> Path | None:
        """Train until ``steps`` (default: wm_train.steps) updates, or until ``max_minutes`` of
        wall time have passed; returns the final checkpoint.

        ``report(trainer)`` is called at every evaluation (the open-loop prediction report).
        """
        from tqdm import tqdm

        t = self.cfg.wm_train
        steps = steps or t.steps
        bar = tqdm(total=steps, initial=self.step, desc="train-wm", unit="step",
                   disable=not self.progress)
        started, frames = time.perf_counter(), 0
        final = None
        deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
        while self.step < steps:
            if deadline is not None and self._stop_at(deadline):
                steps = self.step
                final = self.save() if self.dist.main else None
                break
            metrics = self.train_step()
            frames += t.batch_size * t.seq_len * self.dist.world
            bar.update()
            bar.set_postfix(loss=f"{metrics['loss']:.1f}", kl=f"{metrics['kl_prior']:.2f}")
            if self.step % t.log_every == 0:
                metrics["frames_per_s"] = frames / (time.perf_counter() - started)
                self.log("train", metrics)
            if (self.step % t.eval_every == 0 or self.step == t.first_eval) and self.dist.main:
                self.log("val", self.validate())
                if report is not None:
                    report(self)
            if (self.step % t.checkpoint_every == 0 or self.step == steps) and self.dist.main:
                final = self.save()
        bar.close()
        self.frames_per_s = frames / max(time.perf_counter() - started, 1e-9)
        if self.writer is not None:
            self.writer.flush()
        if self.dist.enabled:
            torch.distributed.barrier()
        return final
