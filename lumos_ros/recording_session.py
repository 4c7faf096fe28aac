"""One recording session over ROS messages: the logic shared by the ``teleop_recorder`` node
(live messages) and ``lumos bag2dataset`` (messages read from a bag), so that the same messages
give the same dataset. Messages are duck-typed: rclpy messages and rosbags-deserialised ones
both work. Frame assembly and crash-safe writing live in ``lumos_core.data.recording``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from lumos_core.data.recording import (AssemblerConfig, EpisodeWriter, FrameAssembler,
                                       RecordingError)
from lumos_core.executor import euler_from_quaternion
from lumos_ros.conversions import image_to_rgb, panda_joint_positions, stamp_seconds
from lumos_ros.sync import ApproximateSync

EVENTS = ("start", "stop", "discard")


class RecordingSession:
    """Messages in, episodes out; ``start`` / ``stop`` / ``discard`` return (ok, message)."""

    def __init__(self, split_dir: str | Path, cfg: AssemblerConfig, slop: float = 0.02,
                 source: str = "teleop_recorder",
                 log_error: Callable[[str], None] = print) -> None:
        self.cfg = cfg
        self.assembler = FrameAssembler(cfg)
        self.writer = EpisodeWriter(split_dir)
        self.sync = ApproximateSync(2, slop, self._on_pair)
        self.source = source
        self.log_error = log_error
        self.error = ""
        self.pairs = 0
        self.discarded = 0
        self.image_errors = 0
        self.actions = 0
        self.dropped_total = 0      # frames dropped in earlier episodes of this session

    # --- messages ----------------------------------------------------------------------------
    def pose(self, msg) -> None:
        """geometry_msgs/PoseStamped of the end effector."""
        p, o = msg.pose.position, msg.pose.orientation
        self.assembler.add_pose(stamp_seconds(msg.header.stamp), [p.x, p.y, p.z],
                                euler_from_quaternion([o.x, o.y, o.z, o.w]))

    def joints(self, msg) -> None:
        """sensor_msgs/JointState: 7 arm joints, then the two finger joints."""
        self.assembler.add_joints(stamp_seconds(msg.header.stamp),
                                  panda_joint_positions(msg.name, msg.position))

    def action(self, msg) -> None:
        """lumos_ros/RelativeAction as executed."""
        self.actions += 1
        self.assembler.add_action(stamp_seconds(msg.header.stamp),
                                  list(msg.delta) + [msg.gripper])

    def state(self, stamp: float, msg) -> None:
        """The simulator's std_msgs/Float32MultiArray state (robot_obs 15 + scene_obs 24)."""
        data = np.asarray(msg.data, np.float32)
        if data.shape == (39,):
            self.assembler.add_state(stamp, data[15:])

    def image(self, camera: int, msg) -> None:
        """sensor_msgs/Image of the static (0) or wrist (1) camera."""
        self.sync.add(camera, stamp_seconds(msg.header.stamp), msg)

    def event(self, name: str) -> tuple[bool, str]:
        """An episode event: start, stop or discard."""
        if name not in EVENTS:
            return False, f"unknown episode event {name!r}; expected start, stop or discard"
        return getattr(self, name)()

    def _on_pair(self, static, wrist) -> None:
        self.pairs += 1
        if not self.writer.recording:
            return
        try:
            frame = self.assembler.add_images(stamp_seconds(static.header.stamp),
                                              image_to_rgb(static), image_to_rgb(wrist))
        except ValueError as exc:
            self.image_errors += 1
            self.log_error(f"image pair dropped: {exc}")
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
        self.log_error(f"recording stopped, episode discarded: {reason}")

    # --- episodes ----------------------------------------------------------------------------
    def start(self) -> tuple[bool, str]:
        if self.writer.recording:
            return False, "already recording"
        self.dropped_total += self.assembler.dropped
        self.assembler.reset()
        self.error = ""
        try:
            self.writer.begin()
        except OSError as exc:
            self.error = f"cannot start: {exc}"
            return False, self.error
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
            ids = self.writer.commit({"source": self.source, "dropped": self.assembler.dropped,
                                      "rate": self.cfg.rate})
        except RecordingError as exc:
            self._fail(str(exc))
            return False, f"episode lost: {exc}"
        if ids is None:
            return False, "episode had no complete frame; nothing written"
        return True, f"episode saved: frames {ids[0]}..{ids[1]} ({frames} frames)"

    def discard(self) -> tuple[bool, str]:
        if not self.writer.recording:
            return False, "not recording"
        frames = self.writer.frames
        self.writer.discard()
        self.discarded += 1
        return True, f"episode discarded ({frames} frames)"

    def status(self) -> dict:
        return {"recording": self.writer.recording, "frames": self.writer.frames,
                "dropped": self.assembler.dropped, "episodes": self.writer.episodes,
                "discarded": self.discarded, "image_pairs": self.pairs, "error": self.error,
                "output_dir": str(self.writer.dir)}
