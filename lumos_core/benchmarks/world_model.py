"""`lumos benchmark world-model`: size and speed of each world-model preset.

Per preset, in a fresh process (so peak memory is its own): parameters, training frames/s
(loss + backward + AdamW on random windows of the preset's batch shape), peak memory (max RSS on
CPU, max allocated on CUDA) and the single-step filter latency at batch 1 (encode both cameras +
proprio and one posterior step -- what the robot runs per camera frame).
"""

from __future__ import annotations

import functools
import time

import torch

from lumos_core.benchmarks.timing import in_own_process, interleaved, peak_rss_mb, reset_peak_rss
from lumos_core.config import load_config
from lumos_core.world_model import CAMERAS, WorldModel, parameter_count


#: the path the issue's reference GPU figure measured (fp16 autocast, eager: the former CUDA
#: default and the paper's setting); :func:`compare` times it beside the others on CUDA
REFERENCE_CUDA = "fp16 eager (former default)"


def _learnable_inputs(cfg, b: int, t: int, device) -> dict:
    """Like :func:`_inputs`, but camera frames with structure a model can learn (8 x 8 random
    colour blocks scaled to 64 x 64) instead of per-pixel noise, whose reconstruction error
    has a floor every path reaches at once."""
    obs = _inputs(cfg, b, t, device)
    for cam in CAMERAS:
        if cam in obs:
            small = torch.randint(0, 256, (b * t, 3, 8, 8), device=device).float()
            big = torch.nn.functional.interpolate(small, size=(64, 64), mode="bilinear",
                                                  align_corners=False)
            obs[cam] = big.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1) \
                .reshape(b, t, 64, 64, 3)
    return obs


def _inputs(cfg, b: int, t: int, device) -> dict:
    obs = {"robot_obs": torch.randn(b, t, 15, device=device)}
    if cfg.obs_mode == "state":
        obs["scene_obs"] = torch.randn(b, t, 24, device=device)
    else:
        for cam in CAMERAS:
            obs[cam] = torch.randint(0, 256, (b, t, 64, 64, 3), dtype=torch.uint8, device=device)
    return obs


def measure(preset: str, device: str = "cpu", threads: int = 1, train_steps: int = 3,
            batch: tuple[int, int] | None = None, latency_steps: int = 50,
            precision: str | None = None) -> dict:
    """Figures for one preset (run it in its own process for a clean peak memory); the
    training steps in ``precision`` (a ``wm_train.precision`` value, or 'default': the
    preset's); None: fp32 on a CPU and fp16 autocast on CUDA (the paper's setting, and what
    the reference GPU figure measured)."""
    from lumos_core.precision import autocast, autocast_dtype, describe

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
    if precision is None:
        dtype = torch.float16 if amp else None
    else:
        dtype = autocast_dtype(cfg.wm_train.precision if precision == "default" else precision,
                               dev, cfg.world_model.obs_mode)
    # the peak from here on: the model, its inputs and the steps, not what the imports and
    # the caller's process reached before (a CLI's imports alone: ~1 GB)
    reset_peak_rss()
    times = []
    for step in range(train_steps + 1):
        start = time.perf_counter()
        with autocast(dev.type, dtype):
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
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if amp else peak_rss_mb()
    return {"preset": preset, "obs_mode": cfg.world_model.obs_mode,
            "params": parameter_count(model), "batch": f"{b}x{t}",
            "train_step_s": train_s, "frames_per_s": b * t / train_s, "peak_mb": peak,
            "filter_ms_median": 1000 * lat[len(lat) // 2],
            "filter_ms_p95": 1000 * lat[int(0.95 * (len(lat) - 1))],
            "device": device, "threads": threads, "precision": describe(dtype)}


def peak_flops(dtype: torch.dtype, device: str = "cpu", n: int | None = None,
               repeats: int = 5) -> float:
    """FLOP/s of a large square matmul in ``dtype``: this machine's practical peak (median);
    ``n`` defaults to 2048 on a CPU and 8192 on a GPU (a smaller product does not fill one)."""
    dev = torch.device(device)
    n = n or (8192 if dev.type == "cuda" else 2048)
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / sorted(times)[len(times) // 2]


#: distinct batches the --curve training cycles through (few enough to be fitted: the curve
#: shows learning, not the noise floor of random images)
CURVE_BATCHES = 4


def compare(preset: str, device: str = "cpu", threads: int = 1, steps: int = 5,
            batch: tuple[int, int] | None = None, profile: bool = True,
            compiled: bool = False, curve: int = 0) -> dict:
    """The plain fp32 path (reference ops: the decoder's first layer as a transposed
    convolution) against the default (``wm_train.precision``, fused first layer) path, interleaved
    step by step on the same batch (drift and noise hit both alike): step times (median,
    min, max), their ratio, the FLOPs of one step (``FlopCounterMode``), the achieved FLOP/s
    as a fraction of a large matmul's in the same dtype, and the top ops of the default
    step (profiler). Every path runs the trainer's update (:func:`~lumos_core.train_wm.
    wm_update`: loss, backward, clipping, AdamW). On CUDA also the former default (fp16
    autocast, eager), and the step captured as a CUDA graph (the default there,
    lumos_core/cuda_graph.py) in the default precision and in fp32. ``compiled``: one more
    path, the default precision with ``torch.compile`` (lumos_core/compile.py). Every path's
    loss on the first batch is reported next to its time (the eager paths with the same
    draws; a captured path's first replay draws its own). ``curve`` > 0: after the timing
    every path trains ``curve`` more steps on the same sequence of batches (cycling through
    :data:`CURVE_BATCHES` fixed random ones with learnable frames) and reports its loss, the
    mean of the last ten: a short training with each path, which should reach the same loss
    within noise."""
    from torch.utils.flop_counter import FlopCounterMode

    from lumos_core.compile import compile_modules, world_model_hot_modules
    from lumos_core.cuda_graph import CapturedStep, wants_graph
    from lumos_core.precision import autocast, autocast_dtype, describe
    from lumos_core.train_wm import wm_update

    torch.set_num_threads(threads)
    cfg = load_config(preset)
    dev = torch.device(device)
    b, t = batch or (cfg.wm_train.batch_size, cfg.wm_train.seq_len)
    obs = _inputs(cfg.world_model, b, t, dev)
    prev = torch.zeros(b, t, 7, device=dev)
    first = torch.zeros(b, t, dtype=torch.bool, device=dev)
    first[:, 0] = True
    fast = autocast_dtype(cfg.wm_train.precision, dev, cfg.world_model.obs_mode)
    graph = wants_graph(cfg.wm_train.cuda_graph, dev, dtype=fast)
    # name -> (autocast dtype, captured as a CUDA graph, compiled)
    variants = {"fp32": (None, False, False)}
    if dev.type == "cuda" and fast != torch.float16:
        variants[REFERENCE_CUDA] = (torch.float16, False, False)
    variants[describe(fast) + (" eager" if graph else " (default)")] = (fast, False, False)
    if graph:
        variants[describe(fast) + " + CUDA graph (default)"] = (fast, True, False)
        if fast is not None:
            variants["fp32 + CUDA graph"] = (None, True, False)
    if compiled:
        variants[describe(fast) + " + compile"] = (fast, False, True)
    models, opts, runs, losses = {}, {}, {}, {}
    for name, (dtype, captured, comp) in variants.items():
        torch.manual_seed(0)
        model = models[name] = WorldModel(cfg.world_model).to(dev)
        opts[name] = torch.optim.AdamW(model.parameters(), lr=cfg.wm_train.lr,   # the trainer's
                                       eps=cfg.wm_train.eps,
                                       weight_decay=cfg.wm_train.weight_decay)
        if name == "fp32":                 # the plain path: no fused decoder layer either
            for decoder in getattr(model, "decoders", {}).values():
                decoder.matmul_first = False
        if comp:
            compile_modules(world_model_hot_modules(model))
        update = functools.partial(wm_update, model, opts[name], dtype=dtype,
                                   grad_clip=cfg.wm_train.grad_clip, cache=not captured)
        runs[name] = (CapturedStep(update, list(model.parameters()), opts[name]) if captured
                      else update)
        if not captured:                   # a captured step's first loss is its first replay's
            torch.manual_seed(1)           # the same draws for every eager path
            with autocast(dev.type, dtype):
                losses[name] = model.loss(obs, prev, first)[0].item()

    def step(name: str, inputs: dict | None = None) -> float:
        if not isinstance(runs[name], CapturedStep):
            opts[name].zero_grad(set_to_none=True)
        loss = runs[name](inputs or obs, prev, first)["loss"].item()   # waits for the device
        losses.setdefault(name, loss)
        return loss

    timed = interleaved(step, list(variants), steps, warmup=2 if compiled else 1)
    curves: dict[str, list[float]] = {name: [] for name in variants}
    if curve:   # every path has now made the same steps on the same batch: train on
        torch.manual_seed(2)
        fixed = [_learnable_inputs(cfg.world_model, b, t, dev) for _ in range(CURVE_BATCHES)]
        for i in range(curve):
            for name in variants:
                torch.manual_seed(1000 + i)    # the same draws for every eager path
                curves[name].append(step(name, fixed[i % CURVE_BATCHES]))
    with FlopCounterMode(display=False) as counter:
        step("fp32")   # eager: FlopCounterMode counts the ops as they run
    flops = counter.get_total_flops()
    out = {"preset": preset, "device": device, "threads": threads, "batch": f"{b}x{t}",
           "frames": b * t, "steps": steps, "flops_per_step": flops, "curve": curve,
           "variants": {}}
    peaks = {dtype: peak_flops(dtype or torch.float32, device)
             for dtype in {v[0] for v in variants.values()}}
    for name, (dtype, captured, comp) in variants.items():
        v = out["variants"][name] = timed[name]
        v["peak_flops_per_s"] = peaks[dtype]
        v["flops_per_s"] = flops / v["median_s"]
        v["peak_fraction"] = v["flops_per_s"] / v["peak_flops_per_s"]
        v["speedup"] = out["variants"]["fp32"]["median_s"] / v["median_s"]
        v["first_loss"] = losses[name]
        v["precision"] = describe(dtype)
        v["eager"] = not (captured or comp)
        if curves[name]:
            last = curves[name][-10:]
            v["curve_loss"] = sum(last) / len(last)
        if getattr(runs[name], "not_captured", None):   # timed eagerly: say so in the table
            v["not_captured"] = runs[name].not_captured
    default = next(name for name in variants if name.endswith("(default)"))
    out["ratio"] = out["variants"][default]["speedup"]
    if REFERENCE_CUDA in variants:         # the optimised paths against the former CUDA default
        ref = out["variants"][REFERENCE_CUDA]["median_s"]
        for v in out["variants"].values():
            v["vs_reference"] = ref / v["median_s"]
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as profiler

        cuda = dev.type == "cuda"
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profiler(activities=activities) as prof:
            step(default)
        # on a GPU the time that counts is the kernels' (the CPU only launches them)
        attr = "self_device_time_total" if cuda else "self_cpu_time_total"
        ops = sorted(prof.key_averages(), key=lambda e: getattr(e, attr), reverse=True)
        total = sum(getattr(e, attr) for e in ops) or 1.0
        out["top_ops"] = [(e.key, getattr(e, attr) / total) for e in ops[:6]]
        out["top_ops_time"] = "self GPU time" if cuda else "self CPU time"
        out["profiled"] = default
    return out


def compare_table(rows: list[dict]) -> str:
    """Markdown table of :func:`compare` rows (one line per variant); on CUDA a column with
    each path's speed-up over the former default (fp16 autocast, eager)."""
    ref = any("vs_reference" in v for r in rows for v in r["variants"].values())
    curve = max((r.get("curve", 0) for r in rows), default=0)
    lines = ["| preset | device | threads | batch | path | step s (median, min-max, n) | "
             "frames/s | speed-up over fp32 | " + ("over fp16 eager | " if ref else "")
             + "GFLOP/step | achieved FLOP/s of peak | peak MB (own process) | first loss |"
             + (f" loss after {curve} more steps (mean of the last 10) |" if curve else ""),
             "|---" * (12 + ref + bool(curve)) + "|"]
    for r in rows:
        frames = r["frames"]
        for name, v in r["variants"].items():
            peak = f"{v['peak_mb']:.0f}" if "peak_mb" in v else "-"
            over = ""
            if ref:
                over = f"{v['vs_reference']:.2f} | " if "vs_reference" in v else "- | "
            if "not_captured" in v:
                name += f" (capture failed, ran eagerly: {v['not_captured']})"
            lines.append(
                f"| {r['preset']} | {r.get('device', 'cpu')} | {r['threads']} | {r['batch']} | "
                f"{name} | "
                f"{v['median_s']:.3f} ({v['min_s']:.3f}-{v['max_s']:.3f}, {r['steps']}) | "
                f"{frames / v['median_s']:.0f} | {v['speedup']:.2f} | {over}"
                f"{r['flops_per_step'] / 1e9:.1f} | {100 * v['peak_fraction']:.0f} % of "
                f"{v['peak_flops_per_s'] / 1e9:.0f} GFLOP/s | {peak} | {v['first_loss']:.5f} |"
                + (f" {v['curve_loss']:.2f} |" if "curve_loss" in v
                   else (" - |" if curve else "")))
    tops = [f"- {r['preset']}, {r['threads']} thread(s), {r.get('profiled', 'default')} "
            f"({r.get('top_ops_time', 'self CPU time')}): "
            + ", ".join(f"{k} {100 * share:.0f} %" for k, share in r["top_ops"])
            for r in rows if "top_ops" in r]
    if tops:
        lines += ["", "Top ops of the default path of each preset (share of its self time):",
                  *tops]
    return "\n".join(lines) + "\n"


def benchmark(presets=("debug", "state", "cpu", "paper"), device: str = "cpu",
              threads: int = 1, train_steps: int = 3) -> list[dict]:
    """:func:`measure` for each preset, each in a fresh process."""
    return [in_own_process(measure, preset=preset, device=device, threads=threads,
                           train_steps=train_steps) for preset in presets]


def table(results: list[dict]) -> str:
    """Markdown table of :func:`benchmark` (the eager step in its precision: fp32 on a CPU,
    fp16 autocast on CUDA; the default training path, e.g. the captured CUDA step, is
    timed by ``--compare-eager``)."""
    lines = ["| preset | mode | params | batch | train step (s, eager) | frames/s | peak MB | "
             "filter ms (median / p95) |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['preset']} | {r['obs_mode']} | {r['params'] / 1e6:.2f} M | "
                     f"{r['batch']} | {r['train_step_s']:.3f} ({r['precision']}) | "
                     f"{r['frames_per_s']:.0f} | "
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
    parser.add_argument("--compare-eager", action="store_true",
                        help="time the plain fp32 path and the default (wm_train.precision) "
                             "path interleaved, print their ratio, FLOPs and top ops")
    parser.add_argument("--compile", action="store_true",
                        help="with --compare-eager: a third path, the default one with "
                             "torch.compile")
    parser.add_argument("--curve", type=POSITIVE, default=None, metavar="N",
                        help="with --compare-eager: then train every path N more steps on the "
                             "same batches and report each one's loss (a short training with "
                             "each path)")
    parser.add_argument("--batch", type=POSITIVE, nargs=2, default=None, metavar=("B", "T"),
                        help="sequences x length (default: the preset's)")
    parser.set_defaults(handler=main)


def main(args) -> int:
    if args.compare_eager:
        rows = []
        for preset in args.presets:
            batch = tuple(args.batch) if args.batch else None
            row = in_own_process(compare, preset=preset, device=args.device,
                                 threads=args.threads, steps=args.train_steps, batch=batch,
                                 compiled=args.compile, curve=args.curve or 0)
            # peak memory of each plain eager path in a process of its own (one process
            # holds all)
            for name, v in row["variants"].items():
                if not v["eager"]:
                    continue
                v["peak_mb"] = in_own_process(
                    measure, preset=preset, device=args.device, threads=args.threads,
                    train_steps=1, batch=batch, latency_steps=1,
                    precision=v["precision"])["peak_mb"]
            rows.append(row)
        print(compare_table(rows), end="")
        return 0
    print(table(benchmark(args.presets, args.device, args.threads, args.train_steps)), end="")
    return 0
