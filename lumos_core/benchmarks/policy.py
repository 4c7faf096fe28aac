"""`lumos benchmark policy`: agent training throughput and LumosPolicy control-step latency.

Per preset (random weights; speed does not depend on training): windows/s of a full agent
update (imagination through the world model, critic and actor backward, both optimiser steps)
on synthetic expert windows, and the latency of ``LumosPolicy.step`` at batch 1 -- world-model
filter step on the observation, plan re-sampled every ``replan_every`` steps, actor -- measured
over enough steps to include re-planning.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch

from lumos_core.agent import LumosAgent
from lumos_core.benchmarks.timing import (in_own_process, interleaved, peak_rss_mb,
                                          reset_peak_rss)
from lumos_core.checkpoint import save_checkpoint
from lumos_core.config import load_config
from lumos_core.language import MODEL_ID
from lumos_core.precision import autocast, autocast_dtype, describe
from lumos_core.policy import LumosPolicy
from lumos_core.world_model import CAMERAS, WorldModel


def _batch(cfg, windows: int, device: torch.device | str = "cpu") -> dict:
    t, f = cfg.agent.max_window, cfg.world_model.feat_dim
    half = windows // 2
    batch = {"feat": torch.randn(windows, t, f), "actions": torch.rand(windows, t, 7) * 2 - 1,
             "mask": torch.ones(windows, t, dtype=torch.bool), "lang": torch.randn(windows, 384),
             "is_lang": torch.arange(windows) >= half, "align": torch.arange(windows) >= half}
    return {k: v.to(device) for k, v in batch.items()}


def _update(agent, actor_opt, critic_opt, batch: dict, dtype: torch.dtype | None = None,
            loss_terms=None, bc_only: bool = False) -> None:
    """One full agent update (both losses, one backward, both optimiser steps, as
    ``lumos train-agent``'s), under ``dtype`` autocast if given, on the batch's device (waited
    for on a GPU, so that a timer around it measures the work). ``loss_terms``: the loss
    function (default ``agent.loss_terms``; e.g. its compiled form); ``bc_only``: the BC
    warm-up's update (no critic loss)."""
    device = batch["feat"].device
    with autocast(device.type, dtype):
        policy_loss, critic_loss, _ = (loss_terms or agent.loss_terms)(batch, bc_only=bc_only)
    critic_opt.zero_grad()
    actor_opt.zero_grad()
    torch.autograd.backward([loss for loss in (critic_loss, policy_loss) if loss is not None])
    critic_opt.step()
    actor_opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(preset: str, threads: int = 1, updates: int = 3, steps: int = 120) -> dict:
    """Training windows/s and control-step latency of one preset."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = load_config(preset)
    wm = WorldModel(cfg.world_model)
    agent = LumosAgent(cfg.agent, wm)
    windows = 2 * cfg.agent_train.batch_size
    batch = _batch(cfg, windows)
    actor_opt = torch.optim.Adam(agent.behaviour.actor_params(), lr=1e-4)
    critic_opt = torch.optim.AdamW(agent.behaviour.critic.parameters(), lr=1e-4)
    times = []
    for i in range(updates + 1):
        start = time.perf_counter()
        _update(agent, actor_opt, critic_opt, batch)
        if i:
            times.append(time.perf_counter() - start)
    update_s = sum(times) / len(times)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(f"{tmp}/policy", kind="policy",
                               modules={"world_model": wm, "behaviour": agent.behaviour},
                               config=cfg, language_model_id=MODEL_ID)
        policy = LumosPolicy(path)
    rng = np.random.default_rng(0)
    obs = {"robot_obs": rng.normal(size=15).astype(np.float32),
           "scene_obs": rng.normal(size=24).astype(np.float32)}
    for cam in CAMERAS:
        obs[cam] = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    goal = rng.normal(size=384).astype(np.float32)
    policy.reset()
    lat = []
    for i in range(steps + 5):
        start = time.perf_counter()
        policy.step(obs, goal)
        if i >= 5:
            lat.append(time.perf_counter() - start)
    lat.sort()
    return {"preset": preset, "obs_mode": cfg.world_model.obs_mode, "windows": windows,
            "update_s": update_s, "windows_per_s": windows / update_s,
            "step_ms_median": 1000 * lat[len(lat) // 2],
            "step_ms_p95": 1000 * lat[int(0.95 * (len(lat) - 1))],
            "step_ms_max": 1000 * lat[-1], "threads": threads}


def update_peak_mb(preset: str, threads: int = 1, precision: str = "fp32",
                   device: str = "cpu") -> float:
    """Peak memory (MB) of two agent updates of ``preset`` in ``precision`` (an
    ``agent_train.precision`` value): on a
    CPU the process's peak resident set while updating (run it in a process of its own; the
    peak of the imports before, e.g. a CLI's, is reset where Linux allows), the allocator's
    peak on a GPU."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = load_config(preset)
    dev = torch.device(device)
    dtype = autocast_dtype(precision, dev, "agent")
    agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model)).to(dev)
    batch = _batch(cfg, 2 * cfg.agent_train.batch_size, dev)
    opts = (torch.optim.Adam(agent.behaviour.actor_params(), lr=1e-4),
            torch.optim.AdamW(agent.behaviour.critic.parameters(), lr=1e-4))
    reset_peak_rss()
    for _ in range(2):                    # the optimisers' state exists from the first
        _update(agent, *opts, batch, dtype)
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return peak_rss_mb()


def compare_update(preset: str, threads: int = 1, updates: int = 5,
                   compiled: bool = False, device: str = "cpu") -> dict:
    """A full agent update in plain fp32 against the default (``agent_train.precision``)
    path, interleaved update by update on the same batch: seconds (median, min, max), ratio.
    ``compiled``: a third path, the default one with the whole loss compiled
    (:func:`lumos_core.compile.compiled_function`, as ``agent_train.compile=always``), and the
    losses of each path on the first batch with the same draws. ``device``: where the
    update runs (e.g. ``cuda``). Also the FLOPs of one update (``FlopCounterMode`` over the
    fp32 path: matrix products and convolutions, forward and backward) and each path's
    achieved FLOP/s as a fraction of a large matmul's in its number format, measured in the
    same run (:func:`lumos_core.benchmarks.world_model.peak_flops`)."""
    from torch.utils.flop_counter import FlopCounterMode

    from lumos_core.benchmarks.world_model import peak_flops
    from lumos_core.compile import compiled_function

    torch.set_num_threads(threads)
    cfg = load_config(preset)
    dev = torch.device(device)
    fast = autocast_dtype(cfg.agent_train.precision, dev, "agent")
    if fast is None:   # fp32 is the default here (a GPU, or a CPU without native bf16):
        # bf16 as the alternative
        variants = {"fp32 (default)": None, "bf16": torch.bfloat16}
    else:
        variants = {"fp32": None, describe(fast) + " (default)": fast}
    if compiled:
        variants[describe(fast) + " + compile"] = fast
    windows = 2 * cfg.agent_train.batch_size
    batch = _batch(cfg, windows, dev)
    runs, losses, loss_fns = {}, {}, {}
    for name, dtype in variants.items():
        torch.manual_seed(0)
        agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model)).to(dev)
        terms = (compiled_function(agent.loss_terms) if name.endswith("+ compile")
                 else agent.loss_terms)
        runs[name] = (agent, torch.optim.Adam(agent.behaviour.actor_params(), lr=1e-4),
                      torch.optim.AdamW(agent.behaviour.critic.parameters(), lr=1e-4))
        loss_fns[name] = terms
        torch.manual_seed(1)                       # the same draws for every path
        with autocast(dev.type, dtype):
            losses[name] = [v.item() for v in terms(batch)[:2]]

    out = {"preset": preset, "device": device, "threads": threads, "windows": windows,
           "updates": updates,
           "variants": interleaved(
               lambda name: _update(*runs[name], batch, variants[name], loss_fns[name]),
               list(variants), updates, warmup=2 if compiled else 1)}
    plain = list(variants)[0]                               # fp32
    with FlopCounterMode(display=False) as counter:
        _update(*runs[plain], batch, variants[plain])
    out["flops_per_update"] = flops = counter.get_total_flops()
    peaks = {dtype: peak_flops(dtype or torch.float32, device)
             for dtype in set(variants.values())}
    base = out["variants"][plain]["median_s"]
    for name, v in out["variants"].items():
        v["windows_per_s"] = windows / v["median_s"]
        v["speedup"] = base / v["median_s"]
        v["policy_loss"], v["critic_loss"] = losses[name]
        v["dtype"] = describe(variants[name])
        v["peak_flops_per_s"] = peaks[variants[name]]
        v["peak_fraction"] = flops / v["median_s"] / v["peak_flops_per_s"]
    default = next(name for name in variants if name.endswith("(default)"))
    out["ratio"] = base / out["variants"][default]["median_s"]
    return out


def compare_table(rows: list[dict]) -> str:
    """Markdown table of :func:`compare_update` rows."""
    lines = ["| preset | device | threads | windows | path | update s (median, min-max, n) | "
             "windows/s | speed-up | GFLOP/update | achieved FLOP/s of peak | "
             "peak MB (own process) | first losses (policy / critic) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for name, v in r["variants"].items():
            peak = f"{v['peak_mb']:.0f}" if "peak_mb" in v else "-"
            lines.append(f"| {r['preset']} | {r.get('device', 'cpu')} | {r['threads']} | "
                         f"{r['windows']} | {name} | "
                         f"{v['median_s']:.3f} ({v['min_s']:.3f}-{v['max_s']:.3f}, "
                         f"{r['updates']}) | {v['windows_per_s']:.0f} | "
                         f"{v['speedup']:.2f} | {r['flops_per_update'] / 1e9:.2f} | "
                         f"{100 * v['peak_fraction']:.0f} % of "
                         f"{v['peak_flops_per_s'] / 1e9:.0f} GFLOP/s | {peak} | "
                         f"{v['policy_loss']:.5f} / {v['critic_loss']:.5f} |")
    return "\n".join(lines) + "\n"


def table(results: list[dict]) -> str:
    """Markdown table of :func:`measure` results."""
    lines = ["| preset | mode | windows per update | update (s) | windows/s | "
             "LumosPolicy.step ms (median / p95 / max) |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['preset']} | {r['obs_mode']} | {r['windows']} | "
                     f"{r['update_s']:.2f} | {r['windows_per_s']:.0f} | "
                     f"{r['step_ms_median']:.2f} / {r['step_ms_p95']:.2f} / "
                     f"{r['step_ms_max']:.2f} |")
    return "\n".join(lines) + "\n"


def register(sub) -> None:
    """`lumos benchmark policy`."""
    from lumos_core.cli.common import POSITIVE

    parser = sub.add_parser("policy", help="agent update throughput and control-step latency")
    parser.add_argument("--presets", nargs="+", default=["state", "cpu"])
    parser.add_argument("--threads", type=POSITIVE, default=1, help="CPU threads")
    parser.add_argument("--compare-eager", action="store_true",
                        help="time the agent update in plain fp32 and in the default "
                             "(agent_train.precision) path, interleaved; print the ratio")
    parser.add_argument("--updates", type=POSITIVE, default=5, help="timed updates")
    parser.add_argument("--compile", action="store_true",
                        help="with --compare-eager: a third path, the default one with the "
                             "whole loss compiled (agent_train.compile=always)")
    parser.add_argument("--device", default="cpu",
                        help="with --compare-eager: where the update runs (cpu or cuda)")
    parser.set_defaults(handler=main)


def main(args) -> int:
    if args.compare_eager:
        rows = []
        for preset in args.presets:
            row = compare_update(preset, args.threads, args.updates, args.compile, args.device)
            # peak memory of each eager path in a process of its own (this one holds all)
            for name, v in row["variants"].items():
                if not name.endswith("+ compile"):
                    v["peak_mb"] = in_own_process(update_peak_mb, preset=preset,
                                                  threads=args.threads, precision=v["dtype"],
                                                  device=args.device)
            rows.append(row)
        print(compare_table(rows), end="")
        return 0
    if args.device != "cpu":
        raise SystemExit("lumos benchmark policy: --device is for --compare-eager (the "
                         "control-step latency is measured on the CPU the robot runs)")
    print(table([measure(p, args.threads) for p in args.presets]), end="")
    return 0
