"""`lumos benchmark world-model`: size and speed of each world-model preset.

Per preset, in a fresh process (so peak memory is its own): parameters, training frames/s
(loss + backward + AdamW on random windows of the preset's batch shape), peak memory (max RSS on
CPU, max allocated on CUDA) and the single-step filter latency at batch 1 (encode both cameras +
proprio and one posterior step -- what the robot runs per camera frame).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time

import torch

from lumos_core.config import load_config
from lumos_core.world_model import CAMERAS, WorldModel, parameter_count


def _inputs(cfg, b: int, t: int, device) -> dict:
    obs = {"robot_obs": torch.randn(b, t, 15, device=device)}
    if cfg.obs_mode == "state":
        obs["scene_obs"] = torch.randn(b, t, 24, device=device)
    else:
        for cam in CAMERAS:
            obs[cam] = torch.randint(0, 256, (b, t, 64, 64, 3), dtype=torch.uint8, device=device)
    return obs


def measure(preset: str, device: str = "cpu", threads: int = 1, train_steps: int = 3,
            batch: tuple[int, int] | None = None, latency_steps: int = 50) -> dict:
    """Figures for one preset (run it in its own process for a clean peak memory)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = load_config(preset)
    dev = torch.device(device)
    model = WorldModel(cfg.world_model).to(dev)
    b, t = batch or (cfg.wm_train.batch_size, cfg.wm_train.seq_len)
    obs = _inputs(cfg.world_model, b, t, dev)
    prev = torch.zeros(b, t, 7, device=dev)
    first = torch.zeros(b, t, dtype=torch.bool, device=dev)
    first[:, 0] = True
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    amp = dev.type == "cuda"
    times = []
    for step in range(train_steps + 1):
        start = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.float16, enabled=amp):
            loss, _, _ = model.loss(obs, prev, first)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if amp:
            torch.cuda.synchronize()
        if step:  # the first step warms up
            times.append(time.perf_counter() - start)
    train_s = sum(times) / len(times)
    model.eval()
    one = _inputs(cfg.world_model, 1, 1, dev)
    zero = torch.zeros(1, 1, 7, device=dev)
    state = model.initial(1)
    no_first = torch.zeros(1, 1, dtype=torch.bool, device=dev)
    lat = []
    with torch.inference_mode():
        for step in range(latency_steps + 5):
            start = time.perf_counter()
            state, _, _ = model.observe(state, one, zero, no_first)
            if amp:
                torch.cuda.synchronize()
            if step >= 5:
                lat.append(time.perf_counter() - start)
    lat.sort()
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if amp
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"preset": preset, "obs_mode": cfg.world_model.obs_mode,
            "params": parameter_count(model), "batch": f"{b}x{t}",
            "train_step_s": train_s, "frames_per_s": b * t / train_s, "peak_mb": peak,
            "filter_ms_median": 1000 * lat[len(lat) // 2],
            "filter_ms_p95": 1000 * lat[int(0.95 * (len(lat) - 1))],
            "device": device, "threads": threads}


def _measure(kwargs: dict) -> dict:
    return measure(**kwargs)


def benchmark(presets=("debug", "state", "cpu", "paper"), device: str = "cpu",
              threads: int = 1, train_steps: int = 3) -> list[dict]:
    """:func:`measure` for each preset, each in a fresh process."""
    ctx = mp.get_context("spawn")
    results = []
    for preset in presets:
        with ctx.Pool(1) as pool:
            results.append(pool.apply(_measure, ({"preset": preset, "device": device,
                                                  "threads": threads,
                                                  "train_steps": train_steps},)))
    return results


def table(results: list[dict]) -> str:
    """Markdown table of :func:`benchmark`."""
    lines = ["| preset | mode | params | batch | train step (s) | frames/s | peak MB | "
             "filter ms (median / p95) |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['preset']} | {r['obs_mode']} | {r['params'] / 1e6:.2f} M | "
                     f"{r['batch']} | {r['train_step_s']:.3f} | {r['frames_per_s']:.0f} | "
                     f"{r['peak_mb']:.0f} | {r['filter_ms_median']:.2f} / "
                     f"{r['filter_ms_p95']:.2f} |")
    return "\n".join(lines) + "\n"


def register(sub) -> None:
    """`lumos benchmark world-model`."""
    from lumos_core.cli.common import POSITIVE

    parser = sub.add_parser("world-model", help="world-model size and speed per preset")
    parser.add_argument("--presets", nargs="+", default=["debug", "state", "cpu", "paper"])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=POSITIVE, default=1, help="CPU threads")
    parser.add_argument("--train-steps", type=POSITIVE, default=3, help="timed updates")
    parser.set_defaults(handler=main)


def main(args) -> int:
    print(table(benchmark(args.presets, args.device, args.threads, args.train_steps)), end="")
    return 0
