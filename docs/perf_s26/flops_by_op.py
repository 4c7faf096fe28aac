"""FLOPs of one fp32 agent update, by op (state and cpu presets).

usage: OMP_NUM_THREADS=1 python docs/perf_s26/flops_by_op.py
"""
import torch
from torch.utils.flop_counter import FlopCounterMode

from lumos_core.agent import LumosAgent
from lumos_core.benchmarks.policy import _batch, _update
from lumos_core.config import load_config
from lumos_core.world_model import WorldModel

torch.set_num_threads(1)
for preset in ("state", "cpu"):
    cfg = load_config(preset)
    torch.manual_seed(0)
    agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
    batch = _batch(cfg, 2 * cfg.agent_train.batch_size)
    opts = (torch.optim.Adam(agent.behaviour.actor_params(), lr=1e-4),
            torch.optim.AdamW(agent.behaviour.critic.parameters(), lr=1e-4))
    _update(agent, *opts, batch, None)
    with FlopCounterMode(display=False) as counter:
        _update(agent, *opts, batch, None)
    by_op = {str(k): round(v / 1e9, 2) for k, v in counter.get_flop_counts()["Global"].items()}
    print(preset, counter.get_total_flops() / 1e9, "GFLOP", by_op)
