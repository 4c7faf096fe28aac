"""Robot-bridge logic: exact inverse of the action normalisation, safety limits, debouncing."""

import numpy as np
import pytest

from lumos_core.executor import ActionIntegrator, GripperDebouncer, SafetyLimits
from lumos_core.sim.env import relative_action

HOME = np.array([0.5, 0.0, 0.3])
DOWN = np.array([np.pi - 0.01, 0.0, 0.2])


def test_integration_inverts_the_training_normalisation():
    integ = ActionIntegrator()
    target_pos, target_eul = HOME + [0.01, -0.005, 0.0], DOWN + [0.0, 0.02, -0.03]
    action = relative_action(target_pos, target_eul, 1.0, HOME, DOWN)
    update = integ.apply(action, HOME, DOWN)
    assert np.allclose(update.position, target_pos, atol=1e-6)
    assert np.allclose(np.angle(np.exp(1j * (update.euler - target_eul))), 0, atol=1e-6)
    assert update.clamped == []


def test_roll_wraps_around_pi():
    update = ActionIntegrator().apply([0, 0, 0, 1, 0, 0, 1], HOME, DOWN)
    assert update.euler[0] == pytest.approx(-np.pi + 0.04, abs=1e-9)


@pytest.mark.parametrize("action", [[0, 0, np.nan, 0, 0, 0, 1], [np.inf] * 7, [0] * 6])
def test_bad_actions_rejected(action):
    with pytest.raises(ValueError):
        ActionIntegrator().apply(action, HOME, DOWN)


def test_out_of_workspace_target_is_clamped():
    integ = ActionIntegrator(SafetyLimits(workspace_max=(0.75, 0.35, 0.31)))
    update = integ.apply([0, 0, 1, 0, 0, 0, 1], HOME, DOWN)
    assert update.position[2] == pytest.approx(0.31) and "workspace" in update.clamped


def test_step_and_reach_limits():
    limits = SafetyLimits(max_step_translation=0.01, max_target_distance=0.015)
    integ = ActionIntegrator(limits, integrate_from="commanded")
    integ.reseed(HOME, DOWN)
    first = integ.apply([1, 1, 0, 0, 0, 0, 1], HOME, DOWN)
    assert np.linalg.norm(first.position - HOME) == pytest.approx(0.01)
    assert "step_translation" in first.clamped
    for _ in range(3):   # the arm does not follow: the target stays within reach
        update = integ.apply([1, 0, 0, 0, 0, 0, 1], HOME, DOWN)
    assert np.linalg.norm(update.position - HOME) == pytest.approx(0.015)
    assert "target_distance" in update.clamped


def test_bad_limits():
    with pytest.raises(ValueError, match="workspace_min"):
        SafetyLimits(workspace_min=(1, 0, 0), workspace_max=(0.5, 1, 1))
    with pytest.raises(ValueError, match="integrate_from"):
        ActionIntegrator(integrate_from="guess")


def test_gripper_debounce():
    g = GripperDebouncer(agree=2, min_interval=0.5)
    assert g.update(-1, 0.0) is None          # one step only
    assert g.update(-1, 0.1) is False         # two agreeing steps: close
    assert g.update(1, 0.2) is None
    assert g.update(1, 0.3) is None           # agreeing, but within min_interval
    assert g.update(1, 0.7) is True           # open
    assert g.update(1, 0.8) is None           # no change, no command
    assert g.update(-1, 2.0) is None and g.update(1, 2.1) is None  # a flicker resets
    assert g.open


def test_quaternions_match_pybullet():
    import pybullet as p

    from lumos_core.executor import euler_from_quaternion, quaternion_from_euler

    for euler in ([0.1, -0.2, 0.3], [np.pi - 0.01, 0.0, 1.2], [0.0, 0.4, -2.0]):
        q = quaternion_from_euler(*euler)
        assert np.allclose(q, p.getQuaternionFromEuler(euler), atol=1e-9)
        assert np.allclose(euler_from_quaternion(q), p.getEulerFromQuaternion(q), atol=1e-9)


def test_reach_limit_never_pulls_a_target_out_of_the_box():
    """Fault: the reach limit ran after the workspace clamp and pulled targets below the floor
    (z = 0.001-0.018 m with workspace_min z = 0.02)."""
    limits = SafetyLimits(workspace_min=(0.25, -0.35, 0.02), max_target_distance=0.015)
    integ = ActionIntegrator(limits, integrate_from="commanded")
    # the gripper pressed 1.5 cm below the box floor (contact), the target far to the side
    measured = np.array([0.5, 0.0, 0.005])
    integ.reseed(np.array([0.7, 0.0, 0.02]), DOWN)
    update = integ.apply([0, 0, -1, 0, 0, 0, 1], measured, DOWN)
    assert update.position[2] == pytest.approx(0.02)       # the box wins
    assert update.position[0] < 0.52                       # and it did not jump sideways
    # measured inside the box: both limits hold
    measured = np.array([0.5, 0.0, 0.021])
    integ.reseed(np.array([0.7, 0.0, -0.5]), DOWN)
    update = integ.apply([0, 0, -1, 0, 0, 0, 1], measured, DOWN)
    assert update.position[2] >= 0.02
    assert np.linalg.norm(update.position - measured) <= 0.015 + 1e-9


def test_every_target_is_safe_under_fuzzed_inputs():
    """Property: for random actions (NaN/inf included), random measured poses inside the box
    and either integration mode, every target is finite, inside the box, within the step limit
    of the previous target and within reach of the measured pose -- or the action is
    rejected."""
    rng = np.random.default_rng(0)
    limits = SafetyLimits()
    lo, hi = np.asarray(limits.workspace_min), np.asarray(limits.workspace_max)
    for mode in ("measured", "commanded"):
        integ = ActionIntegrator(limits, integrate_from=mode)
        measured = rng.uniform(lo, hi)
        for _ in range(3000):
            if rng.random() < 0.3:                       # the arm moves (or jumps)
                measured = np.clip(measured + rng.normal(0, 0.05, 3), lo, hi)
            euler = rng.uniform(-np.pi, np.pi, 3)
            action = rng.uniform(-3, 3, 7)
            if rng.random() < 0.05:
                action[rng.integers(7)] = rng.choice([np.nan, np.inf, -np.inf])
            before = None if integ.target is None else integ.target[0].copy()
            try:
                update = integ.apply(action, measured, euler)
            except ValueError:
                assert not np.all(np.isfinite(action))
                continue
            p = update.position
            assert np.all(np.isfinite(p)) and np.all(np.isfinite(update.euler))
            assert np.all(p >= lo - 1e-12) and np.all(p <= hi + 1e-12)
            assert np.linalg.norm(p - measured) <= limits.max_target_distance + 1e-9
            start = measured if mode == "measured" or before is None else before
            assert np.linalg.norm(p - start) <= limits.max_step_translation + 1e-9 or \
                "target_distance" in update.clamped or "workspace" in update.clamped
            dang = np.angle(np.exp(1j * (update.euler - euler)))
            assert np.max(np.abs(dang)) <= limits.max_target_angle + 1e-9


@pytest.mark.parametrize("pose", [[np.nan, 0, 0.3], [0.5, np.inf, 0.3]])
def test_non_finite_measured_pose_is_rejected(pose):
    with pytest.raises(ValueError, match="measured pose"):
        ActionIntegrator().apply([0] * 6 + [1], pose, DOWN)
