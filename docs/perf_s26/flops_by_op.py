# usage: OMP_NUM_THREADS=1 python docs/perf_s26/flops_by_op.py   (FLOPs of one fp32 agent update, by op)
import sys, torch
from torch.utils.flop_counter import FlopCounterMode
from lumos_core.benchmarks.policy import _batch, _update
from lumos_core.agent import LumosAgent
from lumos_core.world_model import WorldModel
from lumos_core.config import load_config
torch.set_num_threads(1)
for preset in ("state", "cpu"):
    cfg = load_config(preset)
    torch.manual_seed(0)
    agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
    batch = _batch(cfg, 2 * cfg.agent_train.batch_size)
    opts = (torch.optim.Adam(agent.behaviour.actor_params(), lr=1e-4), torch.optim.AdamW(agent.behaviour.critic.parameters(), lr=1e-4))
    _update(agent, *opts, batch, None)
    with FlopCounterMode(display=False) as c:
        _update(agent, *opts, batch, None)
    print(preset, c.get_total_flops() / 1e9, "GFLOP", {str(k): v / 1e9 for k, v in c.get_flop_counts()["Global"].items()})
