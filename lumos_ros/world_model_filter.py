"""world_model_filter: one world-model posterior step per synchronised observation -> LatentState.

Vision mode: the static and wrist ``sensor_msgs/Image`` topics (rgb8/bgr8/..., any size; resized
to the model's resolution) are paired by timestamp (approximate sync with ``slop``); the 15-d
proprioception is assembled from the end-effector pose, the joint states and the last executed
gripper action. State mode: the simulator's state topic (robot_obs + scene_obs). The executed
action (from action_executor) is the previous action of the next step. ``~/reset`` and every new
goal (``reset_on_goal``) restart the filter from the reset state, as the policy does per subtask.
"""

from __future__ import annotations

import sys

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float32MultiArray
from std_srvs.srv import Trigger

from lumos_core.executor import euler_from_quaternion
from lumos_core.policy import LumosPolicy
from lumos_ros.conversions import image_to_rgb, panda_joint_positions, stamp_seconds
from lumos_ros.guards import InputGuard
from lumos_ros.msg import LanguageGoal, LatentState, RelativeAction
from lumos_ros.launcher import run_node
from lumos_ros.params import TORCH_THREADS, Param, apply_torch_threads, declare
from lumos_ros.qos import LATCHED, RELIABLE, SENSOR
from lumos_ros.sync import ApproximateSync


PARAMETERS = (
    Param("checkpoint", "", "policy checkpoint directory (its world model and normalisation)"),
    Param("static_topic", "static_cam/image_raw", "static camera Image input"),
    Param("gripper_cam_topic", "wrist_cam/image_raw", "wrist camera Image input"),
    Param("pose_topic", "lumos/ee_pose", "measured end-effector PoseStamped input"),
    Param("joint_states_topic", "joint_states", "JointState input"),
    Param("state_topic", "lumos/sim_state", "robot_obs + scene_obs input (state-mode models)"),
    Param("executed_topic", "lumos/executed_action", "RelativeAction input: the previous "
          "action the filter conditions on"),
    Param("goal_topic", "lumos/goal", "LanguageGoal input (a new goal resets the filter)"),
    Param("latent_topic", "lumos/latent_state", "LatentState output"),
    Param("slop", 0.02, "approximate camera synchronisation window (s)", 0.001, 1.0),
    Param("reset_on_goal", True, "reset the filter when a new goal arrives"),
    TORCH_THREADS,
)


class WorldModelFilter(Node):
    """Filters observations into latent states."""

    def __init__(self, **kwargs) -> None:
        super().__init__("world_model_filter", **kwargs)
        self.guard = InputGuard(self)
        declare(self, PARAMETERS)
        g = self.get_parameter
        apply_torch_threads(self)
        if not g("checkpoint").value:
            raise ValueError("parameter checkpoint is required (a policy checkpoint directory)")
        self.policy = LumosPolicy(g("checkpoint").value)
        self.checkpoint_id = str(g("checkpoint").value)
        self.mode = self.policy.cfg.world_model.obs_mode
        self.pose = None
        self.joints = None
        self.goal_id = None
        self.steps = 0
        self.pub = self.create_publisher(LatentState, g("latent_topic").value, RELIABLE)
        self.create_subscription(RelativeAction, g("executed_topic").value, self._on_executed,
                                 RELIABLE)
        self.create_subscription(LanguageGoal, g("goal_topic").value, self._on_goal, LATCHED)
        self.create_service(Trigger, "~/reset", self._on_reset)
        if self.mode == "state":
            self.create_subscription(Float32MultiArray, g("state_topic").value, self._on_state,
                                     RELIABLE)
        else:
            self.sync = ApproximateSync(2, g("slop").value, self._on_images)
            for camera, topic in enumerate(("static_topic", "gripper_cam_topic")):
                self.create_subscription(
                    Image, g(topic).value,
                    lambda m, c=camera: self.sync.add(c, stamp_seconds(m.header.stamp), m),
                    SENSOR)
            self.create_subscription(PoseStamped, g("pose_topic").value, self._on_pose,
                                     RELIABLE)
            self.create_subscription(JointState, g("joint_states_topic").value,
                                     self._on_joints, SENSOR)
        self.get_logger().info(f"ready: {self.mode} world model of {g('checkpoint').value}")

    def _on_pose(self, msg: PoseStamped) -> None:
        pose = self.guard.pose("end-effector pose", msg.pose)
        if pose is not None:
            self.pose = np.concatenate([pose[0], euler_from_quaternion(pose[1])])

    def _on_joints(self, msg: JointState) -> None:
        if self.guard.vector("joint states", msg.position) is not None:
            self.joints = panda_joint_positions(msg.name, msg.position)

    def _on_executed(self, msg: RelativeAction) -> None:
        action = self.guard.vector("executed action", list(msg.delta) + [msg.gripper], 7)
        if action is not None:
            self.policy.set_previous_action(action.tolist())

    def _on_goal(self, msg: LanguageGoal) -> None:
        if self.get_parameter("reset_on_goal").value and msg.goal_id != self.goal_id:
            self.policy.reset()
        self.goal_id = msg.goal_id

    def _on_reset(self, request, response):
        self.policy.reset()
        response.success, response.message = True, "filter reset"
        return response

    def _robot_obs(self) -> np.ndarray | None:
        if self.pose is None or self.joints is None or len(self.joints) < 9:
            return None
        gripper = float(self.policy.prev_action[0, 6])
        return np.concatenate([self.pose, [self.joints[7] + self.joints[8]], self.joints[:7],
                               [gripper]]).astype(np.float32)

    def _on_images(self, static: Image, wrist: Image) -> None:
        robot = self._robot_obs()
        if robot is None:
            return
        try:
            obs = {"rgb_static": image_to_rgb(static), "rgb_gripper": image_to_rgb(wrist),
                   "robot_obs": robot}
        except ValueError as exc:
            self.guard.drop("camera images", str(exc))
            return
        self._publish(self.policy.filter(obs), static.header.stamp)

    def _on_state(self, msg: Float32MultiArray) -> None:
        data = self.guard.vector("state (robot_obs + scene_obs)", msg.data, 39)
        if data is None:
            return
        data = data.astype(np.float32)
        self._publish(self.policy.filter({"robot_obs": data[:15], "scene_obs": data[15:]}),
                      self.get_clock().now().to_msg())

    def _publish(self, feat, stamp) -> None:
        deter = self.policy.cfg.world_model.deter
        values = feat[0].cpu().numpy()
        msg = LatentState()
        msg.header.stamp = stamp
        msg.deterministic = values[:deter].tolist()
        msg.stochastic = values[deter:].tolist()
        msg.step = self.policy.filter_steps
        msg.is_first = self.policy.filter_steps == 1
        msg.checkpoint_id = self.checkpoint_id
        self.pub.publish(msg)


def main(args=None) -> int:
    """Run the node until shutdown."""
    return run_node(WorldModelFilter, "world_model_filter", args)


if __name__ == "__main__":
    sys.exit(main())
