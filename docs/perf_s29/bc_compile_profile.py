"""Session 29 scratch: where the `long` recipe's BC warm-up update spends its time, eager bf16
against the whole loss compiled (`compile.compiled_function`, as `agent_train.compile=always`
compiles), forward + backward + optimiser steps separately, and the profiler's top operators.

    L=$(python -c "from lumos_core.benchmarks.agents import LONG_RECIPE as R; print(' '.join(R))")
    OMP_NUM_THREADS=1 python docs/perf_s29/bc_compile_profile.py --updates 9 --set $L
"""
import argparse
import time

import numpy as np
import torch

import lumos_core.compile as comp
from lumos_core.agent import LumosAgent
from lumos_core.benchmarks.policy import _batch
from lumos_core.config import load_config
from lumos_core.precision import autocast, autocast_dtype
from lumos_core.world_model import WorldModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--updates", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", default=None, help="agent_train.precision override")
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--top", type=int, default=14)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sets = list(args.set) + ([f"agent_train.precision={args.precision}"] if args.precision
                             else [])
    cfg = load_config("state", sets)
    dtype = autocast_dtype(cfg.agent_train.precision, torch.device("cpu"), "agent")
    print(f"autocast dtype {dtype}; batch {2 * cfg.agent_train.batch_size} windows")
    batch = _batch(cfg, 2 * cfg.agent_train.batch_size)
    batch["task"] = torch.arange(len(batch["feat"])) % 27
    if not cfg.agent.image_goals:
        batch["is_lang"] = batch["align"] = torch.ones_like(batch["is_lang"])
    runs = {}
    for name in ("eager", "compiled"):
        torch.manual_seed(0)
        agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
        losses = comp.compiled_function(agent.loss_terms) if name == "compiled" \
            else agent.loss_terms
        opt = torch.optim.Adam(agent.behaviour.actor_params(), lr=1e-4)
        runs[name] = (agent, opt, losses)

    def update(name, parts):
        agent, opt, losses = runs[name]
        t0 = time.perf_counter()
        with autocast("cpu", dtype):
            loss, _, _ = losses(batch, bc_only=True)
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        parts.append((t1 - t0, t2 - t1, t3 - t2))

    times = {n: [] for n in runs}
    for i in range(args.updates + 2):
        for name in runs:
            parts = [] if i < 2 else times[name]
            update(name, parts)
    for name, parts in times.items():
        a = np.array(parts)
        med = np.median(a, 0)
        print(f"{name}: forward {med[0] * 1e3:.1f} ms, backward {med[1] * 1e3:.1f} ms, "
              f"optimiser {med[2] * 1e3:.1f} ms, whole {np.median(a.sum(1)) * 1e3:.1f} ms "
              f"(median of {len(a)})")
    for name in runs:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(3):
                update(name, [])
        print(f"\n== {name}: top operators by self CPU time (3 updates)")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top,
                                        max_name_column_width=60))


if __name__ == "__main__":
    main()
