"""teleop_recorder: records play data over ROS 2 into a CALVIN-format dataset split.

Subscribes both camera topics (paired by stamp, ``slop``), the end-effector pose, the joint
states (7 arm + 2 finger joints), the executed action (``action_executor``'s output: what was
really sent) and, in simulation, the simulator state (``scene_obs``). Frames are assembled by
``lumos_core.data.recording.FrameAssembler`` (the same code as ``lumos bag2dataset``) at ``rate``
and staged on disk as they come; an episode joins the dataset only on stop.

Services ``~/start``, ``~/stop``, ``~/discard`` (std_srvs/Trigger) and the ``episode_topic``
(std_msgs/String ``start``/``stop``/``discard``, what the teleop node's buttons send). Publishes
``~/status`` (std_msgs/String, JSON: recording, episode frames, dropped, episodes, last error) on
every change and once a second. SIGINT/SIGTERM stop the node with the current episode committed
(``on_shutdown: commit``) or discarded (``discard``); after a kill -9 the next start removes the
staged frames and every earlier episode is intact. A write error (e.g. a full disk) discards the
episode, stops recording and reports the error; nothing listed is ever partial.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float32MultiArray, String
from std_srvs.srv import Trigger

from lumos_core.data.recording import (AssemblerConfig, EpisodeWriter, FrameAssembler,
                                       RecordingError)
from lumos_core.executor import euler_from_quaternion
from lumos_ros.conversions import image_to_rgb
from lumos_ros.launcher import run_node
from lumos_ros.msg import RelativeAction
from lumos_ros.qos import LATCHED, RELIABLE, SENSOR
from lumos_ros.sync import ApproximateSync


def stamp_seconds(stamp) -> float:
    """A builtin_interfaces/Time in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


class TeleopRecorder(Node):
    """Camera pairs + robot state + executed actions -> episodes on disk."""

    def __init__(self, **kwargs) -> None:
        super().__init__("teleop_recorder", **kwargs)
        ro = ParameterDescriptor(read_only=True)
        for name, default in (("output_dir", "data/recorded/training"),
                              ("static_topic", "/static_cam/image_raw"),
                              ("gripper_cam_topic", "/wrist_cam/image_raw"),
                              ("pose_topic", "/lumos/ee_pose"),
                              ("joint_states_topic", "/joint_states"),
                              ("executed_topic", "/lumos/executed_action"),
                              ("state_topic", ""),
                              ("episode_topic", "/lumos/episode_event"),
                              ("on_shutdown", "commit")):
            self.declare_parameter(name, default, ro)
        self.declare_parameter("rate", 15.0, ro)
        self.declare_parameter("max_age", 0.2, ro)
        self.declare_parameter("slop", 0.02, ro)
        self.declare_parameter("static_size", 200, ro)
        self.declare_parameter("gripper_size", 84, ro)
        g = self.get_parameter
        if g("rate").value <= 0 or g("max_age").value <= 0:
            raise ValueError("parameters rate and max_age must be > 0")
        if g("on_shutdown").value not in ("commit", "discard"):
            raise ValueError(f"parameter on_shutdown={g('on_shutdown').value!r}; allowed: "
                             "commit, discard")
        self.assembler = FrameAssembler(AssemblerConfig(
            g("rate").value, g("max_age").value, g("static_size").value,
            g("gripper_size").value))
        self.writer = EpisodeWriter(Path(g("output_dir").value))
        self.error = ""
        self.pairs = 0
        self.discarded = 0
        self.status_pub = self.create_publisher(String, "~/status", LATCHED)
        self.sync = ApproximateSync(2, g("slop").value, self._on_images)
        self.create_subscription(Image, g("static_topic").value,
                                 lambda m: self.sync.add(0, stamp_seconds(m.header.stamp), m),
                                 SENSOR)
        self.create_subscription(Image, g("gripper_cam_topic").value,
                                 lambda m: self.sync.add(1, stamp_seconds(m.header.stamp), m),
                                 SENSOR)
        self.create_subscription(PoseStamped, g("pose_topic").value, self._on_pose, SENSOR)
        self.create_subscription(JointState, g("joint_states_topic").value, self._on_joints,
                                 SENSOR)
        self.create_subscription(RelativeAction, g("executed_topic").value, self._on_action,
                                 RELIABLE)
        if g("state_topic").value:
            self.create_subscription(Float32MultiArray, g("state_topic").value, self._on_state,
                                     RELIABLE)
        self.create_subscription(String, g("episode_topic").value, self._on_event, RELIABLE)
        self.create_service(Trigger, "~/start", self._srv(self.start))
        self.create_service(Trigger, "~/stop", self._srv(self.stop))
        self.create_service(Trigger, "~/discard", self._srv(self.discard))
        self.create_timer(1.0, self.publish_status)
        self.publish_status()

    # --- inputs ------------------------------------------------------------------------------
    def _on_pose(self, msg: PoseStamped) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        self.assembler.add_pose(stamp_seconds(msg.header.stamp), [p.x, p.y, p.z],
                                euler_from_quaternion([o.x, o.y, o.z, o.w]))

    def _on_joints(self, msg: JointState) -> None:
        self.assembler.add_joints(stamp_seconds(msg.header.stamp), msg.position)

    def _on_action(self, msg: RelativeAction) -> None:
        self.assembler.add_action(stamp_seconds(msg.header.stamp),
                                  list(msg.delta) + [msg.gripper])

    def _on_state(self, msg: Float32MultiArray) -> None:
        data = np.asarray(msg.data, np.float32)
        if data.shape == (39,):
            self.assembler.add_state(self.get_clock().now().nanoseconds * 1e-9, data[15:])

    def _on_images(self, static: Image, wrist: Image) -> None:
        self.pairs += 1
        if not self.writer.recording:
            return
        try:
            frame = self.assembler.add_images(stamp_seconds(static.header.stamp),
                                              image_to_rgb(static), image_to_rgb(wrist))
        except ValueError as exc:
            self.get_logger().error(f"image dropped: {exc}", throttle_duration_sec=5.0)
            return
        if frame is not None:
            self._write(frame)

    def _write(self, frame: dict) -> None:
        try:
            self.writer.append(frame)
        except RecordingError as exc:
            self._fail(str(exc))

    def _fail(self, reason: str) -> None:
        self.writer.discard()
        self.error = reason
        self.get_logger().error(f"recording stopped, episode discarded: {reason}")
        self.publish_status()

    def _on_event(self, msg: String) -> None:
        action = {"start": self.start, "stop": self.stop, "discard": self.discard}.get(msg.data)
        if action is None:
            self.get_logger().warning(f"unknown episode event {msg.data!r}; expected start, "
                                      "stop or discard")
            return
        ok, message = action()
        self.get_logger().info(message) if ok else self.get_logger().warning(message)

    # --- episode control ---------------------------------------------------------------------
    def start(self) -> tuple[bool, str]:
        if self.writer.recording:
            return False, "already recording"
        self.assembler.reset()
        self.error = ""
        try:
            self.writer.begin()
        except OSError as exc:
            self.error = f"cannot start: {exc}"
            return False, self.error
        self.publish_status()
        return True, f"recording episode {self.writer.episodes} into {self.writer.dir}"

    def stop(self) -> tuple[bool, str]:
        if not self.writer.recording:
            return False, "not recording"
        frame = self.assembler.flush()
        if frame is not None:
            self._write(frame)
            if not self.writer.recording:
                return False, f"episode lost: {self.error}"
        frames = self.writer.frames
        try:
            ids = self.writer.commit({"source": "teleop_recorder",
                                      "dropped": self.assembler.dropped,
                                      "rate": self.get_parameter("rate").value})
        except RecordingError as exc:
            self._fail(str(exc))
            return False, f"episode lost: {exc}"
        self.publish_status()
        if ids is None:
            return False, "episode had no complete frame; nothing written"
        return True, f"episode saved: frames {ids[0]}..{ids[1]} ({frames} frames)"

    def discard(self) -> tuple[bool, str]:
        if not self.writer.recording:
            return False, "not recording"
        frames = self.writer.frames
        self.writer.discard()
        self.discarded += 1
        self.publish_status()
        return True, f"episode discarded ({frames} frames)"

    def _srv(self, action):
        def handler(request, response):
            response.success, response.message = action()
            return response
        return handler

    def publish_status(self) -> None:
        if not self.context.ok():      # shutting down after SIGINT/SIGTERM
            return
        self.status_pub.publish(String(data=json.dumps(self.status())))

    def status(self) -> dict:
        return {"recording": self.writer.recording, "frames": self.writer.frames,
                "dropped": self.assembler.dropped, "episodes": self.writer.episodes,
                "discarded": self.discarded,
                "image_pairs": self.pairs, "error": self.error,
                "output_dir": str(self.writer.dir)}

    def shutdown(self) -> None:
        """Finish the current episode the way ``on_shutdown`` says."""
        if self.writer.recording:
            if self.get_parameter("on_shutdown").value == "commit":
                print(f"teleop_recorder: {self.stop()[1]}", flush=True)
            else:
                print(f"teleop_recorder: {self.discard()[1]}", flush=True)


def main(args=None) -> int:
    """Run the node; SIGINT/SIGTERM commit (or discard) the current episode first."""
    return run_node(TeleopRecorder, "teleop_recorder", args, on_exit=TeleopRecorder.shutdown)


if __name__ == "__main__":
    import sys

    sys.exit(main())
