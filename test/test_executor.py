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
