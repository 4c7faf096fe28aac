"""`lumos bag2dataset`: rosbag2 bags (MCAP or sqlite3, read with ``rosbags``; messages decoded
with rclpy's deserializer) -> a CALVIN-format dataset split, with the same frame assembly as
``teleop_recorder``.

Record on the robot, e.g.::

    ros2 bag record -s mcap /static_cam/image_raw /wrist_cam/image_raw /lumos/ee_pose \
        /joint_states /lumos/executed_action /lumos/episode_event

Messages are replayed in the bag's log-time order into a
``lumos_ros.recording_session.RecordingSession``. Episodes: the ``start``/``stop``/``discard``
events on the episode topic when the bag has them (exactly as the recorder would have seen
them), otherwise one episode per stretch of camera frames without a gap longer than ``gap``
seconds. The report lists messages per topic, camera gaps, dropped frames and episodes.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from lumos_core.data.recording import AssemblerConfig, RecordingError
from lumos_core.paths import share_dir
from lumos_ros.conversions import stamp_seconds
from lumos_ros.recording_session import RecordingSession


@dataclass
class BagTopics:
    """Topic names in the bag (defaults = the package's defaults)."""

    static: str = "/static_cam/image_raw"
    gripper: str = "/wrist_cam/image_raw"
    pose: str = "/lumos/ee_pose"
    joints: str = "/joint_states"
    action: str = "/lumos/executed_action"
    state: str = "/lumos/sim_state"
    episode: str = "/lumos/episode_event"


@dataclass
class ConversionReport:
    """What a conversion read and wrote."""

    bags: list[str]
    messages: dict[str, int] = field(default_factory=dict)
    camera_pairs: int = 0
    gaps: list[dict] = field(default_factory=list)
    episodes: list[dict] = field(default_factory=list)
    dropped: int = 0
    discarded: int = 0
    episode_source: str = ""

    def text(self) -> str:
        lines = [f"bags: {', '.join(self.bags)}", "messages per topic:"]
        lines += [f"  {topic}: {count}" for topic, count in sorted(self.messages.items())]
        lines.append(f"camera pairs: {self.camera_pairs}; episodes from {self.episode_source}")
        lines.append(f"camera gaps longer than 2 frames: {len(self.gaps)}")
        lines += [f"  at {g['at']:.3f} s: {g['seconds']:.3f} s" for g in self.gaps[:20]]
        lines.append(f"episodes written: {len(self.episodes)}; frames dropped (no fresh robot "
                     f"state): {self.dropped}; discarded episodes: {self.discarded}")
        lines += [f"  {e['message']}" for e in self.episodes]
        return "\n".join(lines)


def typestore():
    """ROS 2 message types for reading bags, with lumos_ros's own messages added."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    msg_dir = share_dir() / "msg"
    types = {}
    for path in sorted(msg_dir.glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"lumos_ros/msg/{path.stem}"))
    store.register(types)
    return store


def message_class(msgtype: str):
    """The rclpy message class of ``pkg/msg/Name``."""
    package, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError) as exc:
        raise RecordingError(f"message type {msgtype} is not available here ({exc})") from exc


def deserialize(raw: bytes, msgtype: str):
    """CDR bytes -> an rclpy message. rclpy's deserializer, not rosbags': Fast CDR (Jazzy and
    later) pads empty float64 sequences (e.g. JointState.effort), which rosbags 0.11 rejects as a
    size mismatch."""
    from rclpy.serialization import deserialize_message

    return deserialize_message(bytes(raw), message_class(msgtype))


def convert(bags: list[str | Path], out_split: str | Path, topics: BagTopics | None = None,
            cfg: AssemblerConfig | None = None, slop: float = 0.02,
            gap: float = 0.5) -> ConversionReport:
    """Convert ``bags`` (played one after another) into episodes appended to ``out_split``."""
    from rosbags.highlevel import AnyReader

    topics = topics or BagTopics()
    cfg = cfg or AssemblerConfig()
    paths = [Path(b) for b in bags]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"bag {path} does not exist")
    report = ConversionReport([str(p) for p in paths])
    errors: list[str] = []
    session = RecordingSession(out_split, cfg, slop, "bag2dataset", errors.append)
    with AnyReader(paths, default_typestore=typestore()) as reader:
        available = {c.topic for c in reader.connections}
        needed = [topics.static, topics.gripper, topics.pose, topics.joints, topics.action]
        missing = [t for t in needed if t not in available]
        if missing:
            raise RecordingError(f"bag has no {', '.join(missing)}; topics in the bag: "
                                 f"{', '.join(sorted(available))} (set the topic options)")
        use_events = topics.episode in available
        report.episode_source = (f"events on {topics.episode}" if use_events
                                 else f"camera gaps > {gap} s")
        wanted = [c for c in reader.connections if c.topic in set(needed) | {
            topics.state, topics.episode}]
        last_image = None

        def finish(result) -> None:
            ok, message = result
            if ok and message.startswith("episode saved"):
                report.episodes.append({"message": message})
            elif not ok and message not in ("not recording",):
                report.episodes.append({"message": f"not saved: {message}"})

        for connection, log_ns, raw in reader.messages(connections=wanted):
            topic = connection.topic
            report.messages[topic] = report.messages.get(topic, 0) + 1
            msg = deserialize(raw, connection.msgtype)
            if topic == topics.episode:
                finish(session.event(msg.data))
            elif topic in (topics.static, topics.gripper):
                if topic == topics.static:
                    stamp = stamp_seconds(msg.header.stamp)
                    if last_image is not None and stamp - last_image > 2.0 / cfg.rate:
                        report.gaps.append({"at": stamp, "seconds": stamp - last_image})
                        if not use_events and stamp - last_image > gap:
                            finish(session.stop())
                    last_image = stamp
                    if not use_events and not session.writer.recording:
                        session.start()
                session.image(0 if topic == topics.static else 1, msg)
            elif topic == topics.pose:
                session.pose(msg)
            elif topic == topics.joints:
                session.joints(msg)
            elif topic == topics.action:
                session.action(msg)
            elif topic == topics.state:
                session.state(log_ns * 1e-9, msg)
        if session.writer.recording:        # the bag ends mid-episode: keep it, as the
            finish(session.stop())          # recorder does on shutdown (on_shutdown: commit)
    report.camera_pairs = session.pairs
    report.dropped = session.dropped_total + session.assembler.dropped
    report.discarded = session.discarded
    if errors:
        report.episodes.append({"message": f"errors: {errors[:5]}"})
    return report


def write_report(report: ConversionReport, path: str | Path) -> None:
    """The report as JSON."""
    Path(path).write_text(json.dumps(report.__dict__, indent=2))
