"""Session 29 scratch: the compiled BC warm-up update of the `long` recipe, per generated
kernel (inductor's C++ kernels named in the profiler: ``cpp.enable_kernel_profile``), bf16,
one thread, 3 profiled updates after 3 warm-up ones.

    L=$(python -c "from lumos_core.benchmarks.agents import LONG_RECIPE as R; print(' '.join(R))")
    OMP_NUM_THREADS=1 python docs/perf_s29/bc_kernel_profile.py $L
"""
import sys

import torch
import torch._inductor.config as inductor_config

import lumos_core.compile as comp
from lumos_core.agent import LumosAgent
from lumos_core.benchmarks.policy import _batch
from lumos_core.config import load_config
from lumos_core.precision import autocast
from lumos_core.world_model import WorldModel


def main():
    inductor_config.cpp.enable_kernel_profile = True
    torch.set_num_threads(1)
    cfg = load_config("state", sys.argv[1:])
    batch = _batch(cfg, 2 * cfg.agent_train.batch_size)
    batch["task"] = torch.arange(len(batch["feat"])) % 27
    batch["is_lang"] = batch["align"] = torch.ones_like(batch["is_lang"])
    agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
    loss_terms = comp.compiled_function(agent.loss_terms)

    def update():
        with autocast("cpu", torch.bfloat16):
            loss, _, _ = loss_terms(batch, bc_only=True)
        loss.backward()

    for _ in range(3):
        update()
    with torch.profiler.profile() as prof:
        for _ in range(3):
            update()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25,
                                    max_name_column_width=70))


if __name__ == "__main__":
    main()
