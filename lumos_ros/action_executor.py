"""action_executor: the robot bridge from RelativeAction to a safe end-effector target.

Integrates each ``RelativeAction`` (CALVIN convention, see ``lumos_core.executor``) into a target
pose and sends it through a backend:

- ``impedance`` / ``sim``: ``geometry_msgs/PoseStamped`` on ``target_topic`` (a Cartesian
  impedance controller's target, e.g. crisp_controllers ``target_pose``, or ``sim_robot``);
- ``servo``: ``geometry_msgs/TwistStamped`` (delta / dt) on ``twist_topic`` (MoveIt Servo).

The gripper is debounced, then commanded through franka_gripper's Move/Grasp actions
(``gripper_backend`` ``franka``, or ``auto`` when ``franka_msgs`` is importable; see
``lumos_ros.franka_gripper``) or on ``gripper_topic`` (``std_msgs/Bool``, true = open: the
simulator, or ``auto`` without franka_msgs). Safety: workspace box,
per-step and target-to-measured limits, NaN/inf rejection, hold when actions or the measured
pose are older than their timeouts, ``~/hold`` / ``~/resume``, and a robot error flag
(``error_topic``) that holds until resumed. Holding publishes the measured pose as the target.
Every applied action is republished on ``executed_topic`` (normalised, after clamping), which
the world-model filter and the recorder consume.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.node import Node
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from lumos_core.executor import (ExecutorLoop, SafetyLimits, euler_from_quaternion,
                                 quaternion_from_euler, wrap)
from lumos_ros.conversions import stamp_seconds
from lumos_ros.msg import RelativeAction
from lumos_ros.franka_gripper import FrankaGripper, GripperSettings, franka_msgs_available
from lumos_ros.launcher import run_node
from lumos_ros.params import Param, declare
from lumos_ros.qos import LATCHED, RELIABLE

BACKENDS = ("impedance", "servo", "sim")


PARAMETERS = (
    Param("backend", "sim", "how targets reach the robot: " + ", ".join(BACKENDS)),
    Param("action_topic", "lumos/action", "RelativeAction input (from policy_publisher)"),
    Param("pose_topic", "lumos/ee_pose", "measured end-effector PoseStamped input"),
    Param("target_topic", "lumos/target_pose", "PoseStamped target output (sim, impedance)"),
    Param("twist_topic", "servo_node/delta_twist_cmds", "TwistStamped output (servo backend)"),
    Param("gripper_topic", "lumos/gripper_command", "Bool gripper output (true: open)"),
    Param("executed_topic", "lumos/executed_action", "RelativeAction actually executed"),
    Param("error_topic", "lumos/robot_error", "Bool input: true = the robot reports an error "
          "(hold until ~/resume)"),
    Param("frame_id", "panda_link0", "frame of the targets (the robot base)"),
    Param("pos_scale", 0.02, "metres per unit of normalised position action (CALVIN)",
          1e-4, 1.0),
    Param("rot_scale", 0.05, "radians per unit of normalised orientation action (CALVIN)",
          1e-4, 1.0),
    Param("integrate_from", "measured", "integrate actions from the 'measured' pose or the "
          "last 'commanded' target"),
    Param("workspace_min", [0.25, -0.35, 0.02], "lower corner of the workspace box (m, base "
          "frame); every target is clamped into the box"),
    Param("workspace_max", [0.75, 0.35, 0.60], "upper corner of the workspace box (m)"),
    Param("max_step_translation", 0.02, "largest translation per action (m)", 1e-4, 0.1),
    Param("max_step_rotation", 0.1, "largest rotation per action and axis (rad)", 1e-4, 0.5),
    Param("max_target_distance", 0.05, "largest distance of a target from the measured "
          "position (m)", 1e-4, 0.2),
    Param("max_target_angle", 0.2, "largest angle of a target from the measured orientation "
          "(rad)", 1e-4, 1.0),
    Param("action_timeout", 0.15, "hold after this many seconds without a valid action",
          0.02, 5.0, dynamic=True),
    Param("observation_timeout", 0.15, "hold when the measured pose is older than this (s)",
          0.02, 5.0, dynamic=True),
    Param("max_observation_age", 0.15, "hold instead of executing an action computed from an "
          "observation older than this (s; its observation_stamp; 0: off): a dead camera, "
          "filter or policy node stops the robot at once", 0.0, 5.0, dynamic=True),
    Param("gripper_agree_steps", 2, "consecutive agreeing actions before the gripper moves",
          1, 100),
    Param("gripper_min_interval", 0.5, "shortest time between gripper changes (s)", 0.0, 10.0),
    Param("control_period", 1.0 / 15.0, "servo backend: seconds per action (twist = delta / "
          "period)", 1e-3, 1.0),
    Param("gripper_backend", "auto", "franka (franka_gripper actions), topic (Bool on "
          "gripper_topic) or auto (franka if franka_msgs exists)"),
    Param("gripper_namespace", "franka_gripper", "namespace of the franka_gripper actions"),
    Param("gripper_open_width", 0.08, "franka: opening width (m)", 0.0, 0.08),
    Param("gripper_speed", 0.1, "franka: finger speed (m/s)", 0.001, 0.2),
    Param("grasp_force", 30.0, "franka: grasp force (N)", 1.0, 70.0),
    Param("grasp_epsilon", 0.08, "franka: grasp width tolerance (m)", 0.0, 0.08),
    Param("gripper_homing", True, "franka: home the gripper at start-up"),
)


class ActionExecutor(Node):
    """RelativeAction -> safe target pose (or twist) + gripper command."""

    def __init__(self, **kwargs) -> None:
        super().__init__("action_executor", **kwargs)
        declare(self, PARAMETERS)
        g = self.get_parameter
        backend = g("backend").value
        if backend not in BACKENDS:
            raise ValueError(f"parameter backend={backend!r}; allowed: {', '.join(BACKENDS)}")
        self.backend = backend
        limits = SafetyLimits(tuple(g("workspace_min").value), tuple(g("workspace_max").value),
                              g("max_step_translation").value, g("max_step_rotation").value,
                              g("max_target_distance").value, g("max_target_angle").value)
        # the arithmetic `lumos evaluate --executor` runs too
        self.loop = ExecutorLoop(limits, g("pos_scale").value, g("rot_scale").value,
                                 g("integrate_from").value, g("gripper_agree_steps").value,
                                 g("gripper_min_interval").value, g("control_period").value)
        self.integrator, self.gripper = self.loop.integrator, self.loop.gripper
        self.frame_id = g("frame_id").value
        self.franka = self._franka_gripper(g("gripper_backend").value)
        self.measured: tuple[np.ndarray, np.ndarray] | None = None
        self.measured_time = None
        self.last_action_time = None
        self.held = False
        self.error = False
        self.counters = {"applied": 0, "rejected": 0, "clamped": 0, "held": 0, "bad_pose": 0,
                         "stale": 0}
        self.target_pub = self.create_publisher(PoseStamped, g("target_topic").value, RELIABLE)
        self.twist_pub = self.create_publisher(TwistStamped, g("twist_topic").value, RELIABLE)
        self.gripper_pub = self.create_publisher(Bool, g("gripper_topic").value, RELIABLE)
        self.holding = False
        self.status_pub = self.create_publisher(String, "~/status", LATCHED)
        self.executed_pub = self.create_publisher(RelativeAction, g("executed_topic").value,
                                                  RELIABLE)
        self.create_subscription(RelativeAction, g("action_topic").value, self._on_action,
                                 RELIABLE)
        self.create_subscription(PoseStamped, g("pose_topic").value, self._on_pose, RELIABLE)
        self.create_subscription(Bool, g("error_topic").value, self._on_error, RELIABLE)
        self.create_service(Trigger, "~/hold", self._on_hold)
        self.create_service(Trigger, "~/resume", self._on_resume)
        self.create_timer(0.05, self._watchdog)
        self.get_logger().info(
            f"ready: backend {self.backend}, workspace box {list(limits.workspace_min)} .. "
            f"{list(limits.workspace_max)} m, step <= {limits.max_step_translation} m; "
            "holding until actions arrive")

    def _franka_gripper(self, backend: str):
        if backend not in ("auto", "franka", "topic"):
            raise ValueError(f"parameter gripper_backend={backend!r}; allowed: auto, franka, "
                             "topic")
        available = franka_msgs_available()
        if backend == "franka" and not available:
            raise ValueError("gripper_backend=franka needs franka_msgs (franka_ros2), which "
                             "cannot be imported here; use gripper_backend:=topic")
        if backend == "topic" or not available:
            return None
        g = self.get_parameter
        settings = GripperSettings(g("gripper_namespace").value, g("gripper_open_width").value,
                                   g("gripper_speed").value, g("grasp_force").value,
                                   g("grasp_epsilon").value, g("gripper_homing").value)
        self.get_logger().info(f"gripper: franka_gripper actions under {settings.namespace}")
        return FrankaGripper(self, settings)

    # --- inputs ------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_pose(self, msg: PoseStamped) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        position = np.array([p.x, p.y, p.z], dtype=float)
        quat = np.array([o.x, o.y, o.z, o.w], dtype=float)
        if (not np.all(np.isfinite(position)) or not np.all(np.isfinite(quat))
                or not 0.5 < np.linalg.norm(quat) < 1.5):
            # dropped: the last good pose ages, and the watchdog holds on a stale observation
            self.counters["bad_pose"] += 1
            self.get_logger().warning(f"measured pose dropped (non-finite or not a rotation): "
                                      f"{position.tolist()} {quat.tolist()}",
                                      throttle_duration_sec=1.0)
            return
        self.measured = (position, euler_from_quaternion(quat))
        self.measured_time = self._now()
        if self.integrator.target is None:
            self.integrator.reseed(*self.measured)

    def _on_error(self, msg: Bool) -> None:
        if msg.data and not self.error:
            self.get_logger().error("robot reports an error: holding until ~/resume")
            self.error = True
            self._hold_here("the robot reports an error")

    def _stale(self, stamp: float | None, timeout: str) -> bool:
        return stamp is None or self._now() - stamp > self.get_parameter(timeout).value

    def _on_action(self, msg: RelativeAction) -> None:
        action = np.array(list(msg.delta) + [msg.gripper], dtype=float)
        if action.shape != (7,) or not np.all(np.isfinite(action)):
            # checked before the watchdog is fed: a stream of bad actions must end in a hold
            self.counters["rejected"] += 1
            self.get_logger().warning(f"action rejected (expected 6 finite deltas and a "
                                      f"finite gripper value): {action.tolist()}",
                                      throttle_duration_sec=1.0)
            if not (self.held or self.error):
                self._hold_here("invalid action")
            return
        max_age = self.get_parameter("max_observation_age").value
        stamp = stamp_seconds(msg.observation_stamp)
        if max_age > 0 and stamp > 0 and self._now() - stamp > max_age:
            # not fed to the watchdog either: actions from stale observations end in a hold
            self.counters["stale"] += 1
            if not (self.held or self.error):
                self._hold_here(f"action computed from an observation "
                                f"{1000 * (self._now() - stamp):.0f} ms old")
            return
        self.last_action_time = self._now()
        if self.held or self.error:
            return
        if self._stale(self.measured_time, "observation_timeout"):
            self._hold_here("the measured pose is stale")
            return
        try:
            step = self.loop.apply(action, *self.measured, now=self._now())
        except ValueError as exc:
            self.counters["rejected"] += 1
            self.get_logger().warning(f"action rejected: {exc}", throttle_duration_sec=1.0)
            return
        update = step.update
        if update.clamped:
            self.counters["clamped"] += 1
            self.get_logger().debug(f"target clamped: {', '.join(update.clamped)}",
                                    throttle_duration_sec=1.0)
        self._send_target(update.position, update.euler)
        if self.holding:
            self.holding = False
            self.get_logger().info("acting again")
            self._publish_status("acting")
        if step.command is not None:
            if self.franka is not None:
                self.franka.command(step.command)
            else:
                self.gripper_pub.publish(Bool(data=step.command))
        self.counters["applied"] += 1
        executed = RelativeAction()
        executed.header.stamp = self.get_clock().now().to_msg()
        executed.header.frame_id = self.frame_id
        executed.delta = [float(v) for v in step.executed[:6]]
        executed.gripper = float(step.executed[6])
        executed.step = msg.step
        executed.observation_stamp = msg.observation_stamp
        self.executed_pub.publish(executed)

    # --- outputs -----------------------------------------------------------------------------
    def _send_target(self, position: np.ndarray, euler: np.ndarray) -> None:
        stamp = self.get_clock().now().to_msg()
        if self.backend == "servo":
            dt = self.get_parameter("control_period").value
            twist = TwistStamped()
            twist.header.stamp, twist.header.frame_id = stamp, self.frame_id
            v = (position - self.measured[0]) / dt
            w = wrap(euler - self.measured[1]) / dt
            twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z = map(float, v)
            twist.twist.angular.x, twist.twist.angular.y, twist.twist.angular.z = map(float, w)
            self.twist_pub.publish(twist)
            return
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, self.frame_id
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = map(float, position)
        q = quaternion_from_euler(*euler)
        o = pose.pose.orientation
        o.x, o.y, o.z, o.w = map(float, q)
        self.target_pub.publish(pose)

    def _hold_here(self, reason: str = "hold") -> None:
        """Target = measured pose clamped into the box (zero twist for servo); entering a
        hold is logged and published on ``~/status`` (latched JSON: holding, reason,
        counters)."""
        if self.measured is None:
            return
        self.counters["held"] += 1
        self.integrator.reseed(*self.measured)
        # the measured pose, inside the workspace box: an arm pressed below the floor (a
        # contact) is held at the floor, so no published target ever leaves the box
        lim = self.integrator.limits
        self._send_target(np.clip(self.measured[0], lim.workspace_min, lim.workspace_max),
                          self.measured[1])
        if not self.holding:
            self.holding = True
            self.get_logger().info(f"holding the measured pose: {reason}")
            self._publish_status(reason)

    def _publish_status(self, reason: str) -> None:
        self.status_pub.publish(String(data=json.dumps(
            {"holding": self.holding, "reason": reason, "time": self._now(),
             "counters": dict(self.counters)})))

    def _watchdog(self) -> None:
        if self.held or self.error:
            return
        if self.last_action_time is not None and self._stale(self.last_action_time,
                                                             "action_timeout"):
            self._hold_here("no action within action_timeout")
        elif self.last_action_time is not None and self._stale(self.measured_time,
                                                               "observation_timeout"):
            self._hold_here("no measured pose within observation_timeout")

    def _on_hold(self, request, response):
        self.held = True
        self._hold_here("~/hold called")
        response.success, response.message = True, "holding the measured pose"
        return response

    def _on_resume(self, request, response):
        if self.measured is None or self._stale(self.measured_time, "observation_timeout"):
            response.success = False
            response.message = "cannot resume: no fresh measured pose"
            return response
        self.held = self.error = False
        self.integrator.reseed(*self.measured)
        self.get_logger().info("~/resume: acting again from the measured pose")
        response.success, response.message = True, "resumed from the measured pose"
        return response


def final_hold(node: "ActionExecutor") -> None:
    """On the way out (Ctrl-C, SIGTERM, the parent dying): command the measured pose, so the
    robot is left holding, not tracking the last target."""
    if node.measured is None:
        return
    node.get_logger().info("stopping: final hold at the measured pose")
    node.holding = False
    node._hold_here("the executor is stopping")
    time.sleep(0.1)                      # let the middleware send it before the context ends


def main(args=None) -> int:
    """Run the node until shutdown; hold before exiting."""
    return run_node(ActionExecutor, "action_executor", args, on_exit=final_hold,
                    live_exit=True)


if __name__ == "__main__":
    sys.exit(main())
