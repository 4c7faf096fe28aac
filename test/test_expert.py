"""The scripted expert solves every task from a random feasible state."""

import numpy as np
import pytest

from lumos_core.config import SimConfig
from lumos_core.benchmarks.expert import prepare
from lumos_core.sim.chains import run_expert_task
from lumos_core.sim.env import PlayTableEnv
from lumos_core.sim.expert import ScriptedExpert
from lumos_core.sim.tasks import TASKS, SceneState


@pytest.fixture(scope="module")
def env():
    with PlayTableEnv(SimConfig(render=False)) as e:
        yield e


@pytest.mark.parametrize("task", TASKS)
def test_expert_solves(env, task):
    rng = np.random.default_rng(TASKS.index(task))
    expert = ScriptedExpert(env, rng)
    solved = 0
    for _ in range(2):
        assert prepare(env, expert, task, rng), f"no feasible state found for {task}"
        solved += run_expert_task(env, expert, task)
    assert solved >= 1, f"the expert failed {task} twice"


def test_infeasible_task_is_refused(env):
    env.reset(seed=0)
    state = env.scene_obs()
    state[1] = 0.0
    env.reset(options={"scene_obs": state})
    expert = ScriptedExpert(env)
    assert not expert.feasible("close_drawer")
    assert not expert.feasible("place_in_drawer", SceneState(env.scene_obs()))
    with pytest.raises(ValueError, match="not feasible"):
        expert.start("close_drawer")
    with pytest.raises(ValueError, match="unknown task"):
        expert.feasible("fly_away")
