"""Session 28 scratch: the whole agent loss (imagination loop included) under one
torch.compile, against the eager default path, interleaved update by update on one batch.

    OMP_NUM_THREADS=1 python docs/perf_s28/compile_losses.py --presets state cpu --updates 7
    (--backend aot_eager for a quick equivalence check without code generation; --bc-only
    for the BC warm-up's update; --set for a recipe, e.g. the `long` Table I profile's)
"""
import argparse
import time

import torch

import lumos_core.compile as comp
from lumos_core.agent import LumosAgent
from lumos_core.benchmarks.policy import _batch, _update
from lumos_core.benchmarks.timing import interleaved
from lumos_core.config import load_config
from lumos_core.precision import autocast, autocast_dtype
from lumos_core.world_model import WorldModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["state", "cpu"])
    ap.add_argument("--updates", type=int, default=7)
    ap.add_argument("--backend", default="inductor")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", nargs="*", default=[], help="config overrides SECTION.KEY=VALUE")
    ap.add_argument("--bc-only", action="store_true", help="the BC warm-up's update")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    comp.BACKEND = args.backend      # compiled as agent_train.compile=always compiles
    for preset in args.presets:
        cfg = load_config(preset, args.set)
        dtype = autocast_dtype(cfg.agent_train.precision, torch.device("cpu"), "agent")
        batch = _batch(cfg, 2 * cfg.agent_train.batch_size)
        batch["task"] = torch.arange(len(batch["feat"])) % 27     # (the masked alignment)
        if not cfg.agent.image_goals:                             # language windows only
            batch["is_lang"] = batch["align"] = torch.ones_like(batch["is_lang"])
        runs, first = {}, {}
        for name in ("eager", "compiled"):
            torch.manual_seed(0)
            agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
            losses = (comp.compiled_function(agent.loss_terms) if name == "compiled"
                      else agent.loss_terms)
            opts = (torch.optim.Adam(agent.behaviour.actor_params(), lr=1e-4),
                    torch.optim.AdamW(agent.behaviour.critic.parameters(), lr=1e-4))
            runs[name] = (agent, *opts, losses)
            torch.manual_seed(1)
            start = time.perf_counter()
            with autocast("cpu", dtype):
                first[name] = [None if v is None else v.item()
                               for v in losses(batch, bc_only=args.bc_only)[:2]]
            print(f"{preset} {name}: first losses {first[name]} "
                  f"({time.perf_counter() - start:.1f} s incl. compiling)", flush=True)
        res = interleaved(lambda n: _update(*runs[n][:3], batch, dtype, runs[n][3],
                                            args.bc_only), list(runs), args.updates, warmup=2)
        base = res["eager"]["median_s"]
        for name, v in res.items():
            print(f"{preset} {name}: median {v['median_s']:.3f} s "
                  f"(min {v['min_s']:.3f}, max {v['max_s']:.3f}, n {args.updates}) "
                  f"speed-up {base / v['median_s']:.2f}", flush=True)


if __name__ == "__main__":
    main()
