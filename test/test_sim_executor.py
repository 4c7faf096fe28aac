"""On the simulated table the executor passes every action as the simulator's own step does, so
the ROS loop (`make demo`) executes a policy's actions as `lumos evaluate` does. With the real
robot's box (y >= -0.35 m) the demo's policy hovered by the drawer handle (y -0.47..-0.35 m)
while its evaluation of the same chain opened the drawer (session 35)."""

import numpy as np
import pytest

from lumos_core.executor import ExecutorLoop, wrap
from lumos_core.sim.env import POS_SCALE, ROT_SCALE, WORKSPACE
from lumos_ros.bringup import executor_node, policy_nodes, record_nodes


def test_sim_box_is_the_simulators_workspace():
    params = executor_node("sim", "", use_sim=True).effective_parameters()
    assert params["workspace_min"] == [WORKSPACE[k][0] for k in "xyz"]
    assert params["workspace_max"] == [WORKSPACE[k][1] for k in "xyz"]
    real = executor_node("impedance", "", use_sim=False).effective_parameters()
    assert real["workspace_min"][1] == -0.35, "the real robot keeps its own box"


def test_sim_executor_reproduces_the_simulators_step():
    """Random actions from random poses in the workspace: the executor's target is the one the
    simulator's ``step`` commands (position + action * scale, clipped to its workspace)."""
    params = executor_node("sim", "", use_sim=True).effective_parameters()
    integ = ExecutorLoop.from_parameters(params).integrator
    assert (params["pos_scale"], params["rot_scale"]) == (POS_SCALE, ROT_SCALE)
    lo = np.array([WORKSPACE[k][0] for k in "xyz"])
    hi = np.array([WORKSPACE[k][1] for k in "xyz"])
    rng = np.random.default_rng(0)
    for _ in range(5000):
        pos = rng.uniform(lo, hi)
        euler = rng.uniform(-np.pi, np.pi, 3)
        action = rng.uniform(-1, 1, 7)
        action[rng.random(7) < 0.3] = rng.choice([-1.0, 1.0])     # the range's corners too
        update = integ.apply(action, pos, euler)
        assert update.clamped in ([], ["workspace"]), update.clamped
        np.testing.assert_allclose(update.position, np.clip(pos + action[:3] * POS_SCALE,
                                                            lo, hi), atol=1e-12)
        np.testing.assert_allclose(wrap(update.euler - (euler + action[3:6] * ROT_SCALE)), 0,
                                   atol=1e-9)


def test_every_sim_bringup_gives_sim_nodes_their_sim_files():
    """The executor (the simulator's box) and the policy (one action per observation)."""
    for specs, sim in ((policy_nodes("ckpt", use_sim=True), True),
                       (policy_nodes("ckpt", use_sim=False, backend="impedance"), False),
                       (record_nodes("out", use_sim=True), True),
                       (record_nodes("out", use_sim=False, backend="impedance"), False)):
        for spec in specs:
            if spec.executable not in ("action_executor", "policy_publisher"):
                assert spec.overlay_files == ()
                continue
            name = spec.executable
            assert spec.overlay_files == ((f"{name}_sim.yaml",) if sim else ())
            files = [a for a in spec.command() if a.endswith(".yaml")]
            assert [f.rsplit("/", 1)[-1] for f in files] == \
                [f"{name}.yaml"] + ([f"{name}_sim.yaml"] if sim else [])
    policy = next(s for s in policy_nodes("ckpt") if s.executable == "policy_publisher")
    assert policy.effective_parameters()["trigger"] == "latent"


def test_executor_loop_debounces_and_reports_the_executed_action():
    from lumos_core.executor import EXECUTOR_FILES, ExecutorLoop, executor_parameters

    loop = ExecutorLoop.from_parameters(executor_parameters(EXECUTOR_FILES["sim"]))
    pos, euler = np.array([0.5, -0.5, 0.1]), np.array([np.pi, 0.0, 0.0])
    close = np.array([0.5, -1.0, 0.0, 0.0, 0.2, 0.0, -1.0])
    first = loop.apply(close, pos, euler)
    np.testing.assert_allclose(first.executed[:6], close[:6], atol=1e-9)
    assert (first.command, first.gripper_open, first.executed[6]) == (None, True, 1.0)
    second = loop.apply(close, pos, euler)             # two agreeing steps: close now
    assert (second.command, second.gripper_open, second.executed[6]) == (False, False, -1.0)
    opening = [loop.apply(-close, pos, euler) for _ in range(8)]
    # ... and open again no sooner than gripper_min_interval after closing (0.5 s: closed at
    # step 1, steps 1/15 s apart, so at step 9 = the eighth opening action)
    assert [s.command for s in opening].index(True) == 7
    assert opening[0].update.position[1] == pytest.approx(-0.48)


def test_bad_executor_files_are_named(tmp_path):
    from lumos_core.executor import ExecutorLoop, executor_parameters

    with pytest.raises(ValueError, match="nowhere.yaml"):
        executor_parameters(["nowhere.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("workspace_min: [0, 0, 0]\n")
    with pytest.raises(ValueError, match="ros__parameters"):
        executor_parameters([str(bad)])
    params = executor_parameters(["action_executor.yaml"])
    with pytest.raises(ValueError, match="workspace_min .* must be below workspace_max"):
        ExecutorLoop.from_parameters({**params, "workspace_min": [1.0, 1.0, 1.0]})
    with pytest.raises(ValueError, match="lack 'pos_scale'"):
        ExecutorLoop.from_parameters({k: v for k, v in executor_parameters(
            ["action_executor.yaml"]).items() if k != "pos_scale"})


@pytest.mark.slow
def test_shipped_policy_through_the_sim_executor_does_what_its_evaluation_does(tmp_path):
    """Chain 0 with the demo's instructions: the ROS executor's arithmetic with the simulated
    table's files completes what the plain evaluation completes (all five here; with the real
    robot's box the drawer handle is out of reach and the chain stops at 4)."""

    from lumos_core.evaluation import evaluate
    from lumos_core.executor import EXECUTOR_FILES
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file, share_dir
    from lumos_core.sim.chains import load_chains

    instructions = {task: sentences[:1] for task, sentences in load_instruction_file(
        config_file("sim_instructions_eval.yaml")).items()}       # the demo's sentences
    policy = str(share_dir() / "checkpoints" / "policy_state_demo")
    reports = {name: evaluate(policy, load_chains()[:1], instructions, [0], progress=False,
                              executor=files)
               for name, files in (("plain", None), ("sim", list(EXECUTOR_FILES["sim"])))}
    plain, sim = (reports[n]["summary"]["avg_len_mean"] for n in ("plain", "sim"))
    assert sim == plain, (sim, plain)
    assert reports["sim"]["executor"] == ["action_executor.yaml", "action_executor_sim.yaml"]
