"""Gripper commands through franka_gripper's actions (franka_msgs), for action_executor.

franka_gripper (``<namespace>/move``, ``/grasp``, ``/homing``) accepts every goal and runs each
in its own thread, so goals are never queued: this client keeps at most one goal in flight and
remembers only the latest wanted state, sent when the running goal finishes. Open =
``Move{width: open_width, speed}``; close = ``Grasp{width: 0, speed, force, epsilon: {inner,
outer}}`` with wide epsilons so that grasping any object counts as success. ``franka_msgs`` is
not installable on pip-only machines; :func:`franka_msgs_available` tells whether it is here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable


def franka_msgs_available() -> bool:
    """True when ``franka_msgs.action`` can be imported (a franka_ros2 install)."""
    try:
        importlib.import_module("franka_msgs.action")
    except ImportError:
        return False
    return True


@dataclass
class GripperSettings:
    """franka_gripper goal parameters (shared/reference/franka-ros2-contract.md, Gripper)."""

    namespace: str = "franka_gripper"
    open_width: float = 0.08
    speed: float = 0.1
    force: float = 30.0
    epsilon: float = 0.08
    homing: bool = True


class FrankaGripper:
    """``command(open)`` -> Move/Grasp goals, one in flight at a time.

    ``action_client(node, action_type, name)`` builds the clients (``rclpy.action.ActionClient``
    by default); ``actions`` is the ``franka_msgs.action`` module (imported by default).
    """

    def __init__(self, node, settings: GripperSettings, actions: Any = None,
                 action_client: Callable | None = None) -> None:
        if actions is None:
            actions = importlib.import_module("franka_msgs.action")
        if action_client is None:
            from rclpy.action import ActionClient as action_client
        self.node, self.settings, self.actions = node, settings, actions
        ns = settings.namespace.rstrip("/")
        self.move = action_client(node, actions.Move, f"{ns}/move")
        self.grasp = action_client(node, actions.Grasp, f"{ns}/grasp")
        self.homing = action_client(node, actions.Homing, f"{ns}/homing")
        self.in_flight = None          # future of the goal being sent or executed
        self.pending: bool | None = None
        self.sent: list[bool] = []     # every state sent, in order (diagnostics, tests)
        self.failures = 0
        if settings.homing:
            self._send(self.homing, actions.Homing.Goal(), None)

    def command(self, open_: bool) -> None:
        """Ask for open (True) or closed (False); sent now or when the running goal ends."""
        if self.in_flight is not None:
            self.pending = open_
            return
        self._send_state(open_)

    def _send_state(self, open_: bool) -> None:
        s = self.settings
        if open_:
            goal = self.actions.Move.Goal()
            goal.width, goal.speed = s.open_width, s.speed
            client = self.move
        else:
            goal = self.actions.Grasp.Goal()
            goal.width, goal.speed, goal.force = 0.0, s.speed, s.force
            goal.epsilon.inner = goal.epsilon.outer = s.epsilon
            client = self.grasp
        self._send(client, goal, open_)

    def _send(self, client, goal, state: bool | None) -> None:
        if not client.server_is_ready():
            self.node.get_logger().warning("franka_gripper action server not available; "
                                           "gripper command dropped", throttle_duration_sec=2.0)
            self.failures += 1
            return
        if state is not None:
            self.sent.append(state)
        self.in_flight = client.send_goal_async(goal)
        self.in_flight.add_done_callback(self._on_accepted)

    def _on_accepted(self, future) -> None:
        handle = future.result()
        if handle is None or not handle.accepted:
            self.failures += 1
            self.node.get_logger().error("franka_gripper rejected a goal")
            self._next()
            return
        self.in_flight = handle.get_result_async()
        self.in_flight.add_done_callback(self._on_result)

    def _on_result(self, future) -> None:
        result = getattr(future.result(), "result", None)
        if result is not None and not getattr(result, "success", True):
            self.failures += 1
            self.node.get_logger().warning(f"gripper goal failed: {getattr(result, 'error', '')}")
        self._next()

    def _next(self) -> None:
        self.in_flight = None
        if self.pending is not None:
            state, self.pending = self.pending, None
            if not self.sent or self.sent[-1] != state:
                self._send_state(state)
