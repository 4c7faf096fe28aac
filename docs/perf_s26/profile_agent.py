"""Top ops of the default-precision agent update of a preset, by input shape (torch.profiler).

usage: OMP_NUM_THREADS=1 python docs/perf_s26/profile_agent.py cpu
"""
import sys

import torch
from torch.profiler import ProfilerActivity, profile

from lumos_core.agent import LumosAgent
from lumos_core.benchmarks.policy import _batch, _update
from lumos_core.config import load_config
from lumos_core.precision import autocast_dtype
from lumos_core.world_model import WorldModel

torch.set_num_threads(1)
cfg = load_config(sys.argv[1])
torch.manual_seed(0)
agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
batch = _batch(cfg, 2 * cfg.agent_train.batch_size)
opts = (torch.optim.Adam(agent.behaviour.actor_params(), lr=1e-4),
        torch.optim.AdamW(agent.behaviour.critic.parameters(), lr=1e-4))
dtype = autocast_dtype(cfg.agent_train.precision, torch.device("cpu"), "agent")
print("dtype", dtype, "horizon", cfg.agent.horizon, "windows", 2 * cfg.agent_train.batch_size)
for _ in range(2):
    _update(agent, *opts, batch, dtype)
with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
    for _ in range(3):
        _update(agent, *opts, batch, dtype)
averages = prof.key_averages(group_by_input_shape=True)
print(averages.table(sort_by="self_cpu_time_total", row_limit=40))
