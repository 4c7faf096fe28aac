"""sim_robot: the simulated play table behind the interfaces a real robot and cameras present.

Publishes, once per control step (after stepping the simulator towards the latest target):
two ``sensor_msgs/Image`` (rgb8; static and wrist camera), ``sensor_msgs/JointState``, the
measured end-effector ``PoseStamped``, the simulator state (``std_msgs/Float32MultiArray``:
robot_obs + scene_obs, for state-mode models) and the tasks the oracle sees completed since the
current goal arrived (``std_msgs/String``, JSON list). Accepts a target ``PoseStamped`` and a
gripper command (``std_msgs/Bool``, true = open). ``~/reset`` (std_srvs/Trigger) resets the scene:
to the initial state of evaluation chain ``chain_index`` (>= 0) or to a random scene.
"""

from __future__ import annotations

import json
import sys
import threading

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float32MultiArray, String
from std_srvs.srv import Trigger

from lumos_core.config import SimConfig
from lumos_core.executor import euler_from_quaternion, quaternion_from_euler
from lumos_core.sim.env import PlayTableEnv
from lumos_core.sim.tasks import SceneState, completed_tasks
from lumos_ros.conversions import rgb_to_image
from lumos_ros.guards import InputGuard
from lumos_ros.msg import LanguageGoal
from lumos_ros.launcher import run_node
from lumos_ros.params import Param, declare
from lumos_ros.qos import LATCHED, RELIABLE, SENSOR

JOINT_NAMES = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1",
                                                          "panda_finger_joint2"]


PARAMETERS = (
    Param("static_topic", "static_cam/image_raw", "static camera Image output"),
    Param("gripper_cam_topic", "wrist_cam/image_raw", "wrist camera Image output"),
    Param("joint_states_topic", "joint_states", "JointState output"),
    Param("pose_topic", "lumos/ee_pose", "measured end-effector PoseStamped output"),
    Param("target_topic", "lumos/target_pose", "PoseStamped target input (from the executor)"),
    Param("gripper_topic", "lumos/gripper_command", "Bool gripper input (true: open)"),
    Param("state_topic", "lumos/sim_state", "robot_obs + scene_obs output (state-mode models)"),
    Param("tasks_topic", "lumos/completed_tasks", "latched JSON list of tasks the oracle saw "
          "completed since the goal"),
    Param("goal_topic", "lumos/goal", "LanguageGoal input (resets the oracle's reference)"),
    Param("frame_id", "panda_link0", "frame of the published poses"),
    Param("control_rate", 15.0, "simulated control steps per second (Hz)", 1.0, 120.0),
    Param("static_size", 64, "static camera side (pixels)", 8, 512),
    Param("gripper_size", 64, "wrist camera side (pixels)", 8, 512),
    Param("render", True, "render the cameras (false: state only)"),
    Param("seed", 0, "seed of the random scenes"),
    Param("chain_index", -1, "reset to this evaluation chain's initial state (-1: random "
          "scene)", -1, 100000, dynamic=True),
)


class SimRobot(Node):
    """PlayTableEnv as a ROS robot with two cameras."""

    def __init__(self, **kwargs) -> None:
        super().__init__("sim_robot", **kwargs)
        self.guard = InputGuard(self)
        declare(self, PARAMETERS)
        g = self.get_parameter
        self.env = PlayTableEnv(SimConfig(static_size=g("static_size").value,
                                          gripper_size=g("gripper_size").value,
                                          render=g("render").value))
        self.frame_id = g("frame_id").value
        self.seed = g("seed").value
        self.target = None
        self.gripper = 1.0
        self.steps = 0
        # the executor's thread steps the simulator while another thread may destroy the node:
        # every use of the simulator holds this lock and skips a closed one
        self._env_lock = threading.RLock()
        self.pubs = {
            "static": self.create_publisher(Image, g("static_topic").value, SENSOR),
            "gripper": self.create_publisher(Image, g("gripper_cam_topic").value, SENSOR),
            "joints": self.create_publisher(JointState, g("joint_states_topic").value, SENSOR),
            "pose": self.create_publisher(PoseStamped, g("pose_topic").value, RELIABLE),
            "state": self.create_publisher(Float32MultiArray, g("state_topic").value, RELIABLE),
            "tasks": self.create_publisher(String, g("tasks_topic").value, LATCHED),
        }
        self.create_subscription(PoseStamped, g("target_topic").value, self._on_target,
                                 RELIABLE)
        self.create_subscription(Bool, g("gripper_topic").value, self._on_gripper, RELIABLE)
        self.create_subscription(LanguageGoal, g("goal_topic").value, self._on_goal, LATCHED)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self._reset()
        self.create_timer(1.0 / g("control_rate").value, self._step)
        self.get_logger().info("ready: the simulated play table")

    def _reset(self) -> str:
        index = self.get_parameter("chain_index").value
        if index >= 0:
            from lumos_core.sim.chains import load_chains

            chain = load_chains()[index]
            self.obs, _ = self.env.reset(options={
                "scene_obs": np.asarray(chain["scene_obs"], np.float32),
                "robot_obs": np.asarray(chain["robot_obs"], np.float32)})
            what = f"chain {index} ({', '.join(chain['tasks'])})"
        else:
            self.obs, _ = self.env.reset(seed=self.seed)
            what = f"random scene (seed {self.seed})"
            self.seed += 1
        self.target, self.gripper = None, 1.0
        self.reference = SceneState(self.env.scene_obs(), self.env.held_block())
        self.completed: list[str] = []
        self._publish_tasks()
        return what

    def _on_target(self, msg: PoseStamped) -> None:
        pose = self.guard.pose("target pose", msg.pose)
        if pose is not None:
            self.target = (pose[0], euler_from_quaternion(pose[1]))

    def _on_gripper(self, msg: Bool) -> None:
        self.gripper = 1.0 if msg.data else -1.0

    def _on_goal(self, msg: LanguageGoal) -> None:
        """A new goal: the oracle compares against the scene as it is now."""
        with self._env_lock:
            if self.env.closed:
                return
            self.reference = SceneState(self.env.scene_obs(), self.env.held_block())
        self.completed = []
        self._publish_tasks()

    def _on_reset(self, request, response):
        with self._env_lock:
            if self.env.closed:
                response.success, response.message = False, "the simulator is shut down"
                return response
            response.message = f"reset to {self._reset()}"
        response.success = True
        return response

    def _publish_tasks(self) -> None:
        self.pubs["tasks"].publish(String(data=json.dumps(self.completed)))

    def _step(self) -> None:
        with self._env_lock:
            if not self.env.closed:
                self._step_and_publish()

    def _step_and_publish(self) -> None:
        if self.target is None:
            pos, euler = self.env.tcp_pose()
        else:
            pos, euler = self.target
        self.obs, *_ = self.env.step_absolute(pos, euler, self.gripper)
        self.steps += 1
        stamp = self.get_clock().now().to_msg()
        if "rgb_static" in self.obs:
            self.pubs["static"].publish(rgb_to_image(self.obs["rgb_static"], stamp, "static_cam"))
            self.pubs["gripper"].publish(rgb_to_image(self.obs["rgb_gripper"], stamp,
                                                      "wrist_cam"))
        robot = self.obs["robot_obs"]
        joints = JointState()
        joints.header.stamp = stamp
        joints.name = JOINT_NAMES
        width = float(robot[6])
        joints.position = [float(v) for v in robot[7:14]] + [width / 2, width / 2]
        self.pubs["joints"].publish(joints)
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, self.frame_id
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = map(float, robot[:3])
        o = pose.pose.orientation
        o.x, o.y, o.z, o.w = map(float, quaternion_from_euler(*robot[3:6]))
        self.pubs["pose"].publish(pose)
        state = Float32MultiArray()
        state.data = [float(v) for v in np.concatenate([robot, self.obs["scene_obs"]])]
        self.pubs["state"].publish(state)
        done = sorted(completed_tasks(self.reference,
                                      SceneState(self.obs["scene_obs"], self.env.held_block())))
        if done != self.completed:
            self.completed = done
            self._publish_tasks()

    def destroy_node(self) -> None:
        """Close the simulator too (after a step in progress; later callbacks skip it)."""
        with self._env_lock:
            self.env.close()
        super().destroy_node()


def main(args=None) -> int:
    """Run the node until shutdown."""
    return run_node(SimRobot, "sim_robot", args)


if __name__ == "__main__":
    sys.exit(main())
