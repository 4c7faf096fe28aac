"""PlayTableEnv: observation layout, determinism, reset to a state, action validation."""

import numpy as np
import pytest

from lumos_core.config import SimConfig
from lumos_core.sim.env import (POS_SCALE, ROBOT_OBS_DIM, SCENE_OBS_DIM, PlayTableEnv,
                                relative_action)


@pytest.fixture(scope="module")
def env():
    with PlayTableEnv(SimConfig(static_size=64, gripper_size=64)) as e:
        yield e


def test_observation_layout(env):
    obs, info = env.reset(seed=3)
    assert obs["rgb_static"].shape == (64, 64, 3) and obs["rgb_static"].dtype == np.uint8
    assert obs["rgb_gripper"].shape == (64, 64, 3) and obs["rgb_gripper"].dtype == np.uint8
    assert obs["robot_obs"].shape == (ROBOT_OBS_DIM,) and obs["robot_obs"].dtype == np.float32
    assert obs["scene_obs"].shape == (SCENE_OBS_DIM,)
    assert obs["rgb_static"].std() > 10, "static camera image is blank"
    assert obs["rgb_gripper"].std() > 10, "gripper camera image is blank"
    assert info["held_block"] is None
    assert obs["robot_obs"][6] == pytest.approx(0.08, abs=2e-3)  # gripper open at reset


def test_calvin_image_sizes():
    with PlayTableEnv(SimConfig(static_size=200, gripper_size=84)) as env:
        obs, _ = env.reset(seed=0)
        assert obs["rgb_static"].shape == (200, 200, 3)
        assert obs["rgb_gripper"].shape == (84, 84, 3)


def test_deterministic_under_seed(env):
    actions = np.random.default_rng(1).uniform(-1, 1, (15, 7))
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=11)
        for action in actions:
            obs, *_ = env.step(action)
        runs.append(obs)
    for key in runs[0]:
        assert np.array_equal(runs[0][key], runs[1][key]), key


def test_env_reset_forgets_the_past():
    """An episode is a function of its reset and its actions alone, whatever ran before it:
    the evaluation reuses one env per worker, and PyBullet's solver state once carried over
    resets (the expert's actions on chain 1, replayed twice, parted at step 40; the shipped
    policy's chain 17 gave 90 or 107 steps for its first subtask after another chain)."""
    from lumos_core.evaluation import make_policy, run_chain
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.chains import load_chains

    chain = load_chains()[1]
    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    start = {key: np.asarray(chain[key], np.float32) for key in ("scene_obs", "robot_obs")}
    with PlayTableEnv(SimConfig(render=False)) as env:
        expert = make_policy("expert", env, instructions, 0)
        actions = []
        act = expert.step
        expert.step = lambda obs, goal: actions.append(act(obs, goal)) or actions[-1]
        run_chain(env, expert, chain, instructions, np.random.default_rng(0), 120)
        assert len(actions) > 100

        def replay():
            env.reset(options=start)
            return np.stack([np.concatenate([obs["robot_obs"], obs["scene_obs"]])
                             for obs, *_ in map(env.step, actions)])

        first, again = replay(), replay()
    assert np.array_equal(first, again)


def test_reset_to_given_state(env):
    env.reset(seed=5)
    scene = env.scene_obs()
    scene[1] = 0.16  # drawer open
    scene[5] = 1.0   # LED on
    obs, _ = env.reset(options={"scene_obs": scene})
    assert obs["scene_obs"][1] == pytest.approx(0.16, abs=1e-3)
    assert obs["scene_obs"][5] == 1.0
    assert np.allclose(obs["scene_obs"][6:9], scene[6:9], atol=5e-3)
    with pytest.raises(ValueError, match="scene_obs must be 24"):
        env.reset(options={"scene_obs": np.zeros(5)})


def test_relative_action_moves_tcp(env):
    env.reset(seed=0)
    start = env.tcp_pose()[0]
    for _ in range(10):
        env.step([1, 0, 0, 0, 0, 0, 1])
    moved = env.tcp_pose()[0] - start
    assert 0.5 * 10 * POS_SCALE < moved[0] <= 10 * POS_SCALE + 1e-3
    assert abs(moved[1]) < 0.01


def test_relative_action_convention():
    a = relative_action([0.01, 0.0, -0.05], [np.pi - 0.01, 0, 0.02], -0.3,
                        np.zeros(3), np.array([-np.pi + 0.01, 0, 0]))
    assert np.allclose(a, [0.5, 0, -1, -0.4, 0, 0.4, -1], atol=1e-5)


@pytest.mark.parametrize("action, match", [
    (np.zeros(6), "7 values"), ([0, 0, np.nan, 0, 0, 0, 1], "NaN or inf"),
    ([0, 0, 0, np.inf, 0, 0, 1], "NaN or inf"),
])
def test_bad_actions_are_rejected(env, action, match):
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(action)
