"""Open-loop prediction report (the paper's Fig. 3).

From held-out recordings: ``context`` frames (default 5) are filtered with the posterior, then
``horizon`` frames (default 195) are predicted from the recorded actions alone with the prior.
Vision: a true | predicted | error image grid and a GIF per camera, and MSE / PSNR versus
horizon. State: per-dimension true vs predicted plots and MSE versus horizon.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from lumos_core.data.dataset import PlayData
from lumos_core.media import save_gif
from lumos_core.world_model import (CAMERAS, MIN_STD, WorldModel, previous_actions,
                                    to_torch)

STATE_NAMES = (["tcp_x", "tcp_y", "tcp_z", "tcp_roll", "tcp_pitch", "tcp_yaw", "gripper_width"]
               + [f"joint{i}" for i in range(1, 8)] + ["gripper_action", "slider", "drawer",
                                                       "button", "switch", "lightbulb", "led"]
               + [f"{c}_{k}" for c in ("red", "blue", "pink")
                  for k in ("x", "y", "z", "roll", "pitch", "yaw")])


@torch.no_grad()
def open_loop(model: WorldModel, data: PlayData, context: int = 5, horizon: int = 195,
              sequences: int = 4, seed: int = 0) -> dict:
    """Predict ``horizon`` steps after ``context`` filtered frames for random windows."""
    longest = int((data.segments[:, 1] - data.segments[:, 0]).max()) + 1
    horizon = min(horizon, longest - context)
    if horizon < 1:
        raise ValueError(f"{data.dir}: recordings are too short for {context} context frames")
    length = context + horizon
    rng = np.random.default_rng(seed)
    starts = rng.choice(data.valid_starts(length), sequences)
    keys = ["rel_actions", "robot_obs"] + (["scene_obs"] if model.cfg.obs_mode == "state"
                                           else list(CAMERAS))
    device = model.robot_mean.device
    batch = to_torch(data.batch(starts, length, keys), device)
    is_first = batch.pop("is_first")
    is_first[:, 0] = True
    actions = batch.pop("rel_actions")
    prev = previous_actions(actions, is_first)
    model.eval()
    torch.manual_seed(seed)
    ctx_obs = {k: v[:, :context] for k, v in batch.items()}
    state, ctx_feat, _ = model.observe(model.initial(len(starts)), ctx_obs, prev[:, :context],
                                       is_first[:, :context])
    pred_feat, _ = model.imagine(state, actions[:, context - 1:length - 1])
    feat = torch.cat([ctx_feat, pred_feat], 1)
    recon = model.decode(feat)
    out = {"context": context, "horizon": horizon, "starts": starts.tolist(),
           "mode": model.cfg.obs_mode}
    if model.cfg.obs_mode == "state":
        truth = model.vector_targets(batch)
        pred = recon["state"]
        # normalised units (data std); dimensions at the std floor barely move in the data, so
        # any error there is amplified (a block's roll read as pi after a flip): they are
        # reported apart and left out of the aggregate
        std = torch.cat([model.robot_std, model.scene_std])
        constant = std <= MIN_STD + 1e-6
        per_dim = (pred - truth).pow(2)[:, context:].mean((0, 1))           # (D,)
        err = (pred - truth).pow(2)[..., ~constant].mean(-1)               # (B, T)
        out.update(truth=truth.cpu().numpy(), pred=pred.cpu().numpy(),
                   mse=err[:, context:].mean(0).cpu().numpy(),
                   per_dim=per_dim.cpu().numpy(),
                   constant=[STATE_NAMES[i] for i in np.flatnonzero(constant.cpu().numpy())])
        return out
    for cam in CAMERAS:
        truth = (model.image_targets(batch[cam]) + 1) / 2   # (B, T, 3, H, W) in [0, 1]
        pred = ((recon[cam] + 1) / 2).clamp(0, 1)
        mse = (pred - truth).pow(2).mean((-3, -2, -1))       # (B, T)
        out[cam] = {"truth": truth.cpu().numpy(), "pred": pred.cpu().numpy(),
                    "mse": mse[:, context:].mean(0).cpu().numpy(),
                    "psnr": (10 * torch.log10(1.0 / mse[:, context:].clamp(min=1e-10)))
                    .mean(0).cpu().numpy()}
    return out


# physical units of the filter-precision table: metres -> mm for positions, radians as they are
PRECISION_GROUPS = {"tcp position (mm)": ([0, 1, 2], 1000.0),
                    "tcp yaw (rad)": ([5], 1.0),
                    "gripper width (mm)": ([6], 1000.0),
                    "fixtures (slider, drawer m; button, switch rad)": ([15, 16, 17, 18], 1.0),
                    "block position (mm)": ([21, 22, 23, 27, 28, 29, 33, 34, 35], 1000.0),
                    "block yaw mod pi (rad)": ([26, 32, 38], 1.0)}


@torch.no_grad()
def filter_precision(model: WorldModel, data: PlayData, windows: int = 64, length: int = 64,
                     seed: int = 0) -> dict:
    """How precisely the *filtered* latent carries the state (state mode): the posterior
    reconstruction of the last frame of ``windows`` recorded windows of ``length`` frames
    (filtered from the reset state with the recorded actions), against the true canonical
    state, in physical units. A policy on the latents can act no more precisely than this
    (a grasp needs ~1 cm). Returns ``{group: {"median", "p90"}}``."""
    from lumos_core.data.calvin import canonical_robot_obs, canonical_scene_obs

    if model.cfg.obs_mode != "state":
        raise ValueError("filter precision is measured in state mode (vision has no true "
                         "state to compare with)")
    rng = np.random.default_rng(seed)
    starts = rng.choice(data.valid_starts(length), windows)
    device = model.robot_mean.device
    batch = to_torch(data.batch(starts, length, ["rel_actions", "robot_obs", "scene_obs"]),
                     device)
    is_first = batch.pop("is_first")
    is_first[:, 0] = True
    prev = previous_actions(batch.pop("rel_actions"), is_first)
    torch.manual_seed(seed)
    _, feat, _ = model.observe(model.initial(len(starts)), batch, prev, is_first, prior=False)
    pred = model.decode_state(feat[:, -1]).cpu().numpy()
    truth = np.concatenate([canonical_robot_obs(batch["robot_obs"][:, -1].cpu().numpy()),
                            canonical_scene_obs(batch["scene_obs"][:, -1].cpu().numpy())], -1)
    err = np.abs(pred - truth)
    err[:, [26, 32, 38]] = np.minimum(err[:, [26, 32, 38]], np.pi - err[:, [26, 32, 38]])
    return {name: {"median": float(np.median(err[:, dims]) * scale),
                   "p90": float(np.percentile(err[:, dims], 90) * scale)}
            for name, (dims, scale) in PRECISION_GROUPS.items()}


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)


def write_open_loop(result: dict, out_dir: str | Path, columns: int = 10) -> dict:
    """Write grid PNGs, GIFs, the error-vs-horizon curve and ``open_loop.json``."""
    import imageio
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    c, h = result["context"], result["horizon"]
    summary = {"context": c, "horizon": h, "mode": result["mode"]}
    fig, ax = plt.subplots(figsize=(6, 3.4))
    steps = np.arange(1, h + 1)
    if result["mode"] == "state":
        ax.plot(steps, result["mse"], label="state MSE (per dimension / data std)")
        summary["mse"] = result["mse"].tolist()
        summary["per_dimension"] = {name: float(v)
                                    for name, v in zip(STATE_NAMES, result["per_dim"])}
        summary["near_constant"] = result["constant"]
        dims = [0, 1, 2, 6, 15, 16, 19, 21, 24, 25]
        fig2, axes = plt.subplots(len(dims), 1, figsize=(7, 1.3 * len(dims)), sharex=True)
        t = np.arange(c + h)
        for axis, d in zip(axes, dims):
            axis.plot(t, result["truth"][0, :, d], "k", lw=1, label="true")
            axis.plot(t, result["pred"][0, :, d], "r", lw=1, label="predicted")
            axis.axvline(c - 0.5, color="grey", ls=":")
            axis.set_ylabel(STATE_NAMES[d], fontsize=7, rotation=0, ha="right")
        axes[0].legend(fontsize=7, loc="upper right")
        axes[-1].set_xlabel(f"step ({c} context frames, then open loop)")
        fig2.tight_layout()
        fig2.savefig(out_dir / "open_loop_state.png", dpi=110)
        plt.close(fig2)
    else:
        for cam in CAMERAS:
            data = result[cam]
            ax.plot(steps, data["mse"], label=f"{cam} MSE")
            summary[cam] = {"mse": data["mse"].tolist(), "psnr": data["psnr"].tolist()}
            idx = np.linspace(c, c + h - 1, columns).round().astype(int)
            rows = []
            for kind in ("truth", "pred"):
                rows.append(np.concatenate([_to_uint8(data[kind][0, i]) for i in idx], 1))
            err = np.abs(data["truth"][0] - data["pred"][0])
            rows.append(np.concatenate([_to_uint8(err[i] * 2) for i in idx], 1))
            imageio.imwrite(out_dir / f"open_loop_{cam}.png", np.concatenate(rows, 0))
            frames = [np.concatenate([_to_uint8(data["truth"][0, i]),
                                      _to_uint8(data["pred"][0, i]), _to_uint8(err[i] * 2)], 1)
                      for i in range(c + h)]
            save_gif(out_dir / f"open_loop_{cam}.gif", frames, 15)
    ax.set_xlabel("open-loop step")
    ax.set_ylabel("MSE")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "open_loop_error.png", dpi=110)
    plt.close(fig)
    (out_dir / "open_loop.json").write_text(json.dumps(summary))
    return summary


def plot_training_curves(metrics_file: str | Path, out: str | Path) -> None:
    """Loss, reconstruction NLL and KL of training and validation from ``metrics.jsonl``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(metrics_file).read_text().splitlines() if line]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, key in zip(axes, ("loss", "recon_nll", "kl_prior")):
        for tag, style in (("train", "-"), ("val", "o-")):
            points = [(r["step"], r[key]) for r in rows if r.get("tag") == tag and key in r]
            if points:
                ax.plot(*zip(*points), style, ms=3, lw=1, label=tag)
        ax.set_title(key)
        ax.set_xlabel("update")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


AGENT_CURVES = (("policy_loss", "policy loss"), ("bc_mse", "BC action MSE"),
                ("critic_loss", "critic loss"), ("reward", "DITTO reward"),
                ("return", "lambda-return"), ("value", "value"),
                ("align", "alignment (CLIP) loss"), ("plan_kl", "plan KL"))


def plot_agent_curves(metrics_file: str | Path, out: str | Path) -> list[str]:
    """One panel per metric that ``train-agent`` logged (losses, reward, value, alignment);
    returns the metrics plotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(metrics_file).read_text().splitlines() if line]
    present = [(k, title) for k, title in AGENT_CURVES if any(k in r for r in rows)]
    if not present:
        return []
    cols = min(4, len(present))
    nrows = (len(present) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), squeeze=False)
    for ax in axes.flat[len(present):]:
        ax.axis("off")
    for ax, (key, title) in zip(axes.flat, present):
        points = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot(*zip(*points), "-", lw=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("batch", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return [k for k, _ in present]
