"""Input guards shared by the nodes: a non-finite or wrong-shaped input is dropped, counted
and logged (throttled) -- never acted on, never a crash. Downstream, the executor holds when
its inputs stop arriving."""

from __future__ import annotations

from collections import Counter

import numpy as np


class InputGuard:
    """Counts and logs dropped inputs of one node (``counts[topic]``)."""

    def __init__(self, node) -> None:
        self.node = node
        self.counts: Counter[str] = Counter()

    def drop(self, what: str, reason: str) -> None:
        """Count and log (at most once a second per node) one dropped input."""
        self.counts[what] += 1
        self.node.get_logger().warning(f"dropped {what}: {reason} ({self.counts[what]} so far)",
                                       throttle_duration_sec=1.0)

    def vector(self, what: str, values, size: int | None = None) -> np.ndarray | None:
        """``values`` as a float array if finite (and of ``size``), else None (dropped)."""
        array = np.asarray(values, dtype=np.float64).ravel()
        if size is not None and array.shape != (size,):
            self.drop(what, f"expected {size} values, got {array.size}")
            return None
        if not np.all(np.isfinite(array)):
            self.drop(what, "non-finite values (NaN or inf)")
            return None
        return array

    def pose(self, what: str, msg) -> tuple[np.ndarray, np.ndarray] | None:
        """(position, quaternion xyzw) of a ``geometry_msgs/Pose`` if finite and a rotation."""
        p, o = msg.position, msg.orientation
        position = self.vector(what, [p.x, p.y, p.z], 3)
        quat = self.vector(what, [o.x, o.y, o.z, o.w], 4)
        if position is None or quat is None:
            return None
        if not 0.5 < np.linalg.norm(quat) < 1.5:
            self.drop(what, f"orientation is not a unit quaternion (norm "
                            f"{np.linalg.norm(quat):.3f})")
            return None
        return position, quat
