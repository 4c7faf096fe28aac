"""InputGuard: what every node does with a bad input (drop, count, log throttled)."""

import math
from types import SimpleNamespace

import numpy as np

from lumos_ros.guards import InputGuard


class FakeNode:
    def __init__(self):
        self.warnings = []

    def get_logger(self):
        return SimpleNamespace(warning=lambda text, **kw: self.warnings.append((text, kw)))


def _pose(x=0.5, w=1.0):
    return SimpleNamespace(position=SimpleNamespace(x=x, y=0.0, z=0.3),
                           orientation=SimpleNamespace(x=0.0, y=0.0, z=0.0, w=w))


def test_bad_inputs_are_dropped_counted_and_logged_throttled():
    node = FakeNode()
    guard = InputGuard(node)
    assert guard.vector("action", [0.0] * 7, 7) is not None
    assert guard.vector("action", [0.0] * 6, 7) is None
    assert guard.vector("action", [math.nan] + [0.0] * 6, 7) is None
    assert guard.vector("action", [math.inf] * 7) is None
    assert guard.counts["action"] == 3
    assert all(kw.get("throttle_duration_sec") == 1.0 for _, kw in node.warnings)
    assert "expected 7 values, got 6" in node.warnings[0][0]


def test_poses_must_be_finite_rotations():
    guard = InputGuard(FakeNode())
    position, quat = guard.pose("pose", _pose())
    assert np.allclose(position, [0.5, 0.0, 0.3]) and np.allclose(quat, [0, 0, 0, 1])
    assert guard.pose("pose", _pose(x=math.nan)) is None
    assert guard.pose("pose", _pose(w=0.0)) is None          # not a rotation
    assert guard.counts["pose"] == 2
