"""Session 19: the categorical draw's share of a full agent update, both draws in one process.

    OMP_NUM_THREADS=1 python docs/perf_s19/draw_bench.py [--presets state cpu] [--updates 9]

Times a full agent update (lumos_core.benchmarks.policy: imagination, critic and actor backward,
both optimiser steps; the preset's default precision) with z and plans drawn by
``torch.multinomial`` and by inverting the cumulative distribution, interleaved update by
update on the same batch, and the draw alone at the update's shapes. Nothing else may run.
"""

import argparse
import time

import torch

import lumos_core.agent as agent_module
import lumos_core.world_model as world_model
from lumos_core.agent import LumosAgent
from lumos_core.benchmarks.policy import _batch, _update
from lumos_core.benchmarks.timing import interleaved
from lumos_core.config import load_config
from lumos_core.precision import autocast_dtype


def multinomial(probs: torch.Tensor) -> torch.Tensor:
    flat = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(flat, 1).view(probs.shape[:-1])


#: the code's draw (inverse CDF) against the one it replaced
DRAWS = {"multinomial": multinomial, "inverse CDF": world_model.categorical_sample}


def use(draw) -> None:
    world_model.categorical_sample = agent_module.categorical_sample = draw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", nargs="+", default=["state", "cpu"])
    parser.add_argument("--updates", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| preset | draw | update s (median) | min-max | vs multinomial | "
          "the draw alone, ms (z of the update's windows) |")
    print("|---|---|---|---|---|---|")
    for preset in args.presets:
        cfg = load_config(preset)
        dtype = autocast_dtype(cfg.agent_train.precision, torch.device("cpu"), "agent")
        torch.manual_seed(0)
        agent = LumosAgent(cfg.agent, world_model.WorldModel(cfg.world_model))
        opts = (torch.optim.Adam(agent.behaviour.actor_params(), lr=1e-4),
                torch.optim.AdamW(agent.behaviour.critic.parameters(), lr=1e-4))
        windows = 2 * cfg.agent_train.batch_size
        batch = _batch(cfg, windows)

        def step(name):
            use(DRAWS[name])
            _update(agent, *opts, batch, dtype)

        runs = interleaved(step, list(DRAWS), args.updates)
        probs = torch.rand(windows, cfg.world_model.stoch, cfg.world_model.classes).softmax(-1)
        base = runs["multinomial"]["median_s"]
        for name, draw in DRAWS.items():
            start = time.perf_counter()
            for _ in range(200):
                draw(probs)
            alone = (time.perf_counter() - start) / 200 * 1000
            r = runs[name]
            print(f"| {preset} | {name} | {r['median_s']:.3f} | {r['min_s']:.3f}-"
                  f"{r['max_s']:.3f} | {base / r['median_s']:.2f}x | {alone:.3f} |")
    use(DRAWS["inverse CDF"])


if __name__ == "__main__":
    main()
