"""imagination: the policy's imagined future for the current goal, as live topics (RViz).

At ``rate`` Hz (low: a preview, not the control loop), from the latest LatentState and the
current LanguageGoal, the policy is rolled forward ``horizon`` steps ``samples`` times in the
world model (nothing is executed) and published:

- ``lumos/imagined_path`` (nav_msgs/Path): the end-effector path of the first future;
- ``lumos/imagined_markers`` (visualization_msgs/MarkerArray): every future's path as a line
  strip, and its end point;
- ``lumos/predicted_success`` (std_msgs/Float32): share of futures that complete the goal's
  nearest training task (state mode; -1 when unknown);
- ``lumos/imagined_image`` (sensor_msgs/Image): the decoded static-camera frame at the end of
  the first future (vision mode).
"""

from __future__ import annotations

import sys

import numpy as np
from geometry_msgs.msg import Point, PoseStamped
from nav_msgs.msg import Path
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Float32
from visualization_msgs.msg import Marker, MarkerArray

from lumos_ros.conversions import rgb_to_image
from lumos_ros.guards import InputGuard
from lumos_ros.imaginer import Imaginer
from lumos_ros.launcher import run_node
from lumos_ros.msg import LanguageGoal
from lumos_ros.params import TORCH_THREADS, Param, apply_torch_threads, declare
from lumos_ros.qos import LATCHED, RELIABLE

PARAMETERS = (
    Param("checkpoint", "", "policy checkpoint directory"),
    Param("latent_topic", "lumos/latent_state", "LatentState input"),
    Param("state_topic", "lumos/sim_state", "robot_obs + scene_obs input (state mode; '' off)"),
    Param("goal_topic", "lumos/goal", "latched LanguageGoal input"),
    Param("frame_id", "panda_link0", "frame of the published paths and markers"),
    Param("rate", 1.0, "previews per second (Hz)", 0.05, 10.0, dynamic=True),
    Param("horizon", 60, "imagined steps (15 Hz: 60 = 4 s)", 1, 1000),
    Param("samples", 8, "imagined futures", 1, 64),
    TORCH_THREADS,
)


class Imagination(Node):
    """Publishes the imagined future of the current goal."""

    def __init__(self, **kwargs) -> None:
        super().__init__("imagination", **kwargs)
        self.guard = InputGuard(self)
        declare(self, PARAMETERS)
        apply_torch_threads(self)
        g = self.get_parameter
        if not g("checkpoint").value:
            raise ValueError("parameter checkpoint is required (a policy checkpoint directory)")
        self.imaginer = Imaginer(self, g("checkpoint").value, g("latent_topic").value,
                                 g("state_topic").value, g("horizon").value,
                                 g("samples").value)
        self.imaginer.policy          # load now: a bad checkpoint fails at start-up
        self.frame_id = g("frame_id").value
        self.goal: LanguageGoal | None = None
        self.create_subscription(LanguageGoal, g("goal_topic").value, self._on_goal, LATCHED)
        self.path_pub = self.create_publisher(Path, "lumos/imagined_path", RELIABLE)
        self.marker_pub = self.create_publisher(MarkerArray, "lumos/imagined_markers", RELIABLE)
        self.success_pub = self.create_publisher(Float32, "lumos/predicted_success", RELIABLE)
        self.image_pub = self.create_publisher(Image, "lumos/imagined_image", RELIABLE)
        self.previews = 0
        self.timer = self.create_timer(1.0 / g("rate").value, self._tick)
        self.get_logger().info(f"imagining {g('samples').value} futures of "
                               f"{g('horizon').value} steps at {g('rate').value} Hz")

    def _on_goal(self, msg: LanguageGoal) -> None:
        if msg.active and self.guard.vector("language goal embedding", msg.embedding,
                                            384) is None:
            return
        self.goal = msg if msg.active else None

    def _tick(self) -> None:
        if self.goal is None or self.imaginer.ready():
            return
        task = self._task(self.goal.instruction)
        result = self.imaginer.imagine(np.asarray(self.goal.embedding, np.float32), task,
                                       seed=self.previews)
        self.previews += 1
        stamp = self.get_clock().now().to_msg()
        if "path" in result:
            self._publish_paths(result["path"], stamp)
        p = result["probability"]
        self.success_pub.publish(Float32(data=-1.0 if p is None else float(p)))
        frames = result["future"].decoded.get("rgb_static")
        if frames is not None:
            image = rgb_to_image(frames[0, -1], stamp, self.frame_id)
            self.image_pub.publish(image)

    def _task(self, instruction: str) -> str | None:
        """The nearest training instruction's task (as the language server reports it)."""
        known = self.imaginer.policy.instructions
        for task, texts in known.items():
            if instruction in texts:
                return task
        gate = getattr(self, "_gate", None)
        if gate is None and known:
            from lumos_core.instructions import InstructionGate

            gate = self._gate = InstructionGate(self.imaginer.policy.encoder, known)
        return gate.check(instruction).closest_task if gate else None

    def _publish_paths(self, paths: np.ndarray, stamp) -> None:
        path = Path()
        path.header.stamp, path.header.frame_id = stamp, self.frame_id
        for point in paths[0]:
            pose = PoseStamped()
            pose.header = path.header
            p = pose.pose.position
            p.x, p.y, p.z = map(float, point)
            pose.pose.orientation.w = 1.0
            path.poses.append(pose)
        self.path_pub.publish(path)
        markers = MarkerArray()
        for i, sample in enumerate(paths):
            line = Marker()
            line.header = path.header
            line.ns, line.id = "imagined", i
            line.type, line.action = Marker.LINE_STRIP, Marker.ADD
            line.scale.x = 0.004
            line.color.r, line.color.g, line.color.b, line.color.a = 0.1, 0.6, 1.0, 0.6
            line.pose.orientation.w = 1.0
            line.points = [Point(x=float(q[0]), y=float(q[1]), z=float(q[2])) for q in sample]
            markers.markers.append(line)
        self.marker_pub.publish(markers)


def main(args=None) -> int:
    """Run the node until shutdown."""
    return run_node(Imagination, "imagination", args)


if __name__ == "__main__":
    sys.exit(main())
