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

from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float32MultiArray, String
from std_srvs.srv import Trigger

from lumos_core.data.recording import AssemblerConfig
from lumos_ros.launcher import run_node
from lumos_ros.msg import RelativeAction
from lumos_ros.params import Param, declare
from lumos_ros.qos import LATCHED, RELIABLE, SENSOR
from lumos_ros.recording_session import RecordingSession


PARAMETERS = (
    Param("output_dir", "data/recorded/training", "dataset split directory episodes go to"),
    Param("static_topic", "static_cam/image_raw", "static camera Image input"),
    Param("gripper_cam_topic", "wrist_cam/image_raw", "wrist camera Image input"),
    Param("pose_topic", "lumos/ee_pose", "measured end-effector PoseStamped input"),
    Param("joint_states_topic", "joint_states", "JointState input"),
    Param("executed_topic", "lumos/executed_action", "executed RelativeAction input"),
    Param("state_topic", "", "optional robot_obs + scene_obs input (simulator)"),
    Param("episode_topic", "lumos/episode_event", "episode events input"),
    Param("on_shutdown", "commit", "what happens to an open episode at shutdown: commit or "
          "discard"),
    Param("rate", 15.0, "frames per second written (Hz)", 0.5, 100.0),
    Param("max_age", 0.2, "a frame whose robot state is older is dropped (s)", 0.001, 5.0),
    Param("slop", 0.02, "camera pairing window (s)", 0.001, 1.0),
    Param("static_size", 200, "static frame side written (0: as recorded)", 0, 1024),
    Param("gripper_size", 84, "wrist frame side written (0: as recorded)", 0, 1024),
)


class TeleopRecorder(Node):
    """Camera pairs + robot state + executed actions -> episodes on disk."""

    def __init__(self, **kwargs) -> None:
        super().__init__("teleop_recorder", **kwargs)
        declare(self, PARAMETERS)
        g = self.get_parameter
        if g("rate").value <= 0 or g("max_age").value <= 0:
            raise ValueError("parameters rate and max_age must be > 0")
        if g("on_shutdown").value not in ("commit", "discard"):
            raise ValueError(f"parameter on_shutdown={g('on_shutdown').value!r}; allowed: "
                             "commit, discard")
        self.session = RecordingSession(
            Path(g("output_dir").value),
            AssemblerConfig(g("rate").value, g("max_age").value, g("static_size").value,
                            g("gripper_size").value),
            g("slop").value, "teleop_recorder", self._log_error)
        self.status_pub = self.create_publisher(String, "~/status", LATCHED)
        s = self.session
        self.create_subscription(Image, g("static_topic").value, lambda m: s.image(0, m), SENSOR)
        self.create_subscription(Image, g("gripper_cam_topic").value, lambda m: s.image(1, m),
                                 SENSOR)
        self.create_subscription(PoseStamped, g("pose_topic").value, s.pose, SENSOR)
        self.create_subscription(JointState, g("joint_states_topic").value, s.joints, SENSOR)
        self.create_subscription(RelativeAction, g("executed_topic").value, s.action, RELIABLE)
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
    def _on_state(self, msg: Float32MultiArray) -> None:
        # no header: stamped on arrival (simulator only, same host clock as its images)
        self.session.state(self.get_clock().now().nanoseconds * 1e-9, msg)

    def _on_event(self, msg: String) -> None:
        ok, message = self._run(self.session.event, msg.data)
        self.get_logger().info(message) if ok else self.get_logger().warning(message)

    def _run(self, action, *args) -> tuple[bool, str]:
        recording, error = self.session.writer.recording, self.session.error
        ok, message = action(*args)
        if (recording, error) != (self.session.writer.recording, self.session.error):
            self.publish_status()
        return ok, message

    # --- episode control (also used on shutdown) ---------------------------------------------
    def start(self) -> tuple[bool, str]:
        return self._run(self.session.start)

    def stop(self) -> tuple[bool, str]:
        return self._run(self.session.stop)

    def discard(self) -> tuple[bool, str]:
        return self._run(self.session.discard)

    def _srv(self, action):
        def handler(request, response):
            response.success, response.message = action()
            return response
        return handler

    def _log_error(self, message: str) -> None:
        self.get_logger().error(message, throttle_duration_sec=1.0)
        self.publish_status()

    @property
    def pairs(self) -> int:
        """Camera pairs matched so far."""
        return self.session.pairs

    @property
    def error(self) -> str:
        return self.session.error

    @property
    def writer(self):
        return self.session.writer

    def publish_status(self) -> None:
        if not self.context.ok():      # shutting down after SIGINT/SIGTERM
            return
        self.status_pub.publish(String(data=json.dumps(self.status())))

    def status(self) -> dict:
        return self.session.status()

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
