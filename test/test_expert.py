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


def test_multimodal_expert_lifts_a_block_both_ways_from_the_same_state(env):
    """collect.multimodal: from one start state the expert turns the wrist either way (grasp
    yaws a half turn apart) and goes straight or by a detour to either side; every way lifts
    the block. Without it, the plan is the same whatever the random stream."""
    task = "lift_red_block_table"
    env.reset(seed=3)
    start = env.scene_obs()

    def plan(multimodal: bool, seed: int) -> list:
        env.reset(options={"scene_obs": start})
        expert = ScriptedExpert(env, np.random.default_rng(seed), multimodal=multimodal)
        expert.start(task)
        return expert.plan

    unimodal = {tuple(tuple(np.round(wp.pos, 4)) + (round(wp.yaw, 4),) for wp in plan(False, s))
                for s in range(6)}
    assert len(unimodal) == 1, "the one-mode expert's plan varied with the random stream"
    grasp_yaws, first_moves = set(), set()
    for seed in range(12):
        steps = plan(True, seed)
        grasp_yaws.add(round(steps[-1].yaw, 3))
        first_moves.add(tuple(np.round(steps[0].pos[:2], 3)))
    assert len(grasp_yaws) == 2 and abs(np.subtract(*sorted(grasp_yaws))) == pytest.approx(
        np.pi, abs=1e-3), grasp_yaws
    assert len(first_moves) == 3, "expected straight, left and right approaches"
    for seed in (0, 1, 2):
        env.reset(options={"scene_obs": start})
        expert = ScriptedExpert(env, np.random.default_rng(seed), multimodal=True)
        assert run_expert_task(env, expert, task), f"multimodal lift failed (seed {seed})"
