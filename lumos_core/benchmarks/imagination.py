"""`lumos benchmark imagination`: latency of a dry run (the policy imagined H steps x S
samples in the world model) per preset, random weights, one thread, batch 1 state."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def measure(preset: str, horizon: int = 60, samples: int = 8, repeats: int = 20,
            threads: int = 1) -> dict:
    """Median / p95 ms of :func:`~lumos_core.imagination.imagine` without decoding, decoding
    every step, and decoding only the final step (what the ROS preview of a vision model
    does)."""
    import torch

    from lumos_core.config import SimConfig
    from lumos_core.imagination import imagine
    from lumos_core.policy import LumosPolicy
    from lumos_core.sim.env import PlayTableEnv
    from lumos_ros.latency_benchmark import random_policy_checkpoint

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        overrides = ["world_model.use_proprio=false"] if preset == "state" else []
        ckpt = random_policy_checkpoint(preset, Path(tmp) / "ckpt", overrides)
        policy = LumosPolicy(ckpt)
        vision = policy.cfg.world_model.obs_mode == "vision"
        with PlayTableEnv(SimConfig(render=vision)) as env:
            obs, _ = env.reset(seed=0)
        policy.reset()
        policy.filter(obs)
        goal = np.ones(384, np.float32) / np.sqrt(384)
        out = {"preset": preset, "obs_mode": policy.cfg.world_model.obs_mode,
               "horizon": horizon, "samples": samples, "threads": threads}
        for _ in range(3):                                                   # warm-up
            imagine(policy, goal, horizon, samples, decode=True)
        keys = {False: "latent", True: "decoded", "final": "final"}
        times: dict = {decode: [] for decode in keys}
        for i in range(repeats):                       # interleaved: drift hits all alike
            for decode in keys:
                t0 = time.perf_counter()
                imagine(policy, goal, horizon, samples, seed=i, decode=decode)
                times[decode].append(1000 * (time.perf_counter() - t0))
        for decode, ms in times.items():
            key = keys[decode]
            out[f"{key}_ms_median"] = float(np.median(ms))
            out[f"{key}_ms_p95"] = float(np.percentile(ms, 95))
    return out


def table(rows: list[dict]) -> str:
    lines = ["| preset | mode | H x S | threads | imagine ms (median / p95) | decoding every "
             "step | decoding the final step |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['obs_mode']} | {r['horizon']} x {r['samples']} | "
                     f"{r['threads']} | {r['latent_ms_median']:.1f} / {r['latent_ms_p95']:.1f} "
                     f"| {r['decoded_ms_median']:.1f} / {r['decoded_ms_p95']:.1f} "
                     f"| {r['final_ms_median']:.1f} / {r['final_ms_p95']:.1f} |")
    return "\n".join(lines) + "\n"


def register(sub) -> None:
    """`lumos benchmark imagination`."""
    from lumos_core.cli.common import POSITIVE

    parser = sub.add_parser("imagination", help="dry-run latency: H steps x S samples")
    parser.add_argument("--presets", nargs="+", default=["state", "cpu"])
    parser.add_argument("--horizon", type=POSITIVE, default=60)
    parser.add_argument("--samples", type=POSITIVE, default=8)
    parser.add_argument("--repeats", type=POSITIVE, default=20)
    parser.add_argument("--threads", type=POSITIVE, default=1)
    parser.set_defaults(handler=main)


def main(args) -> int:
    print(table([measure(p, args.horizon, args.samples, args.repeats, args.threads)
                 for p in args.presets]), end="")
    return 0
