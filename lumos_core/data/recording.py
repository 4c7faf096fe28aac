"""Play-data recording: timestamped robot messages -> CALVIN-format frames -> crash-safe episodes.

Shared by the ``teleop_recorder`` node (live) and ``lumos bag2dataset`` (offline), so both give
the same frames from the same messages. :class:`FrameAssembler` is fed decoded messages with
their header stamps, in any cross-topic order:

- a camera pair (static + wrist images with one stamp, paired by the caller) is a frame
  candidate; candidates closer than ``0.9 / rate`` to the last frame are skipped (the camera
  rate is brought down to ``rate``);
- a frame is completed one camera pair later (or at the end of the episode), so messages of
  other topics that arrive after its images still count;
- the robot state of frame *t* is the latest end-effector pose and joint state stamped at or
  before the images (``max_age`` at most older), the gripper action in ``robot_obs`` the last
  executed gripper command at or before them; the optional simulator state gives ``scene_obs``;
- the action of frame *t* is the last executed action stamped after frame *t* and at or before
  frame *t+1* (CALVIN: ``rel_actions[t]`` moves frame *t* to *t+1*); with no action in between, a zero motion with the held gripper state;
- a candidate without a fresh pose or joint state is dropped (counted).

:class:`EpisodeWriter` stages each frame as it comes in a temporary directory inside the split
and commits the episode (atomic list update, statistics) only on ``stop``; ``discard`` or a crash
leaves every earlier episode intact.
"""

from __future__ import annotations

import bisect
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lumos_core.data.calvin import (SplitWriter, frame_name, merge_moments, moments,
                                    read_episode_meta, write_statistics)
from lumos_core.data.dataset import resize

VECTORS = ("actions", "rel_actions", "robot_obs", "scene_obs")


class RecordingError(RuntimeError):
    """Recording cannot go on (e.g. the disk is full); the message says why."""


class _Series:
    """Stamped values of one topic, kept for ``keep`` seconds, looked up by stamp."""

    def __init__(self, keep: float = 5.0) -> None:
        self.stamps: list[float] = []
        self.values: list = []
        self.keep = keep

    def add(self, stamp: float, value) -> None:
        i = bisect.bisect_right(self.stamps, stamp)
        self.stamps.insert(i, stamp)
        self.values.insert(i, value)
        cut = bisect.bisect_left(self.stamps, self.stamps[-1] - self.keep)
        if cut:
            del self.stamps[:cut], self.values[:cut]

    def at_or_before(self, stamp: float):
        i = bisect.bisect_right(self.stamps, stamp)
        return (self.stamps[i - 1], self.values[i - 1]) if i else (None, None)

    def last_in(self, lo: float, hi: float):
        """Latest value with lo < stamp <= hi."""
        i = bisect.bisect_right(self.stamps, hi)
        if i and self.stamps[i - 1] > lo:
            return self.values[i - 1]
        return None


@dataclass
class AssemblerConfig:
    """How frames are sampled and sized."""

    rate: float = 15.0
    max_age: float = 0.2
    static_size: int = 200      # 0: keep the camera's size
    gripper_size: int = 84
    pos_scale: float = 0.02     # metres per normalised action unit (absolute actions)
    rot_scale: float = 0.05


@dataclass
class FrameAssembler:
    """Timestamped messages -> frames (see the module docstring)."""

    cfg: AssemblerConfig = field(default_factory=AssemblerConfig)

    def __post_init__(self) -> None:
        self.pose, self.joints = _Series(), _Series()
        self.actions, self.state = _Series(), _Series()
        self.pending: dict | None = None
        self.last_stamp: float | None = None
        self.dropped = 0

    def reset(self) -> None:
        """Forget the pending frame (a new episode starts from the next camera pair)."""
        self.pending, self.last_stamp, self.dropped = None, None, 0

    def add_pose(self, stamp: float, position, euler) -> None:
        self.pose.add(stamp, np.concatenate([position, euler]).astype(np.float32))

    def add_joints(self, stamp: float, positions) -> None:
        """Arm joints (7) then the two finger joints (width = their sum)."""
        self.joints.add(stamp, np.asarray(positions, np.float32))

    def add_action(self, stamp: float, rel_action) -> None:
        """An executed 7-D relative action (normalised deltas, gripper +-1)."""
        self.actions.add(stamp, np.asarray(rel_action, np.float32))

    def add_state(self, stamp: float, scene_obs) -> None:
        self.state.add(stamp, np.asarray(scene_obs, np.float32))

    def add_images(self, stamp: float, static: np.ndarray, wrist: np.ndarray) -> dict | None:
        """A camera pair; returns the previous frame once it is complete, else None.

        The previous pair's robot state and action are looked up only now, one frame later,
        so that messages of other topics that arrive after its images still count."""
        if self.last_stamp is not None and stamp - self.last_stamp < 0.9 / self.cfg.rate:
            return None
        done = self._complete(self.pending, stamp) if self.pending is not None else None
        self.pending, self.last_stamp = (stamp, static, wrist), stamp
        return done

    def flush(self) -> dict | None:
        """At the end of an episode: the pending frame if an action followed it, else None."""
        if self.pending is None:
            return None
        pending, self.pending = self.pending, None
        if self.actions.last_in(pending[0], float("inf")) is None:
            return None
        return self._complete(pending, float("inf"))

    def _complete(self, pending: tuple, next_stamp: float) -> dict | None:
        frame = self._frame(*pending)
        if frame is None:
            self.dropped += 1
            return None
        return self._finish(frame, next_stamp)

    def _frame(self, stamp: float, static: np.ndarray, wrist: np.ndarray) -> dict | None:
        pose_stamp, pose = self.pose.at_or_before(stamp)
        joint_stamp, joints = self.joints.at_or_before(stamp)
        if pose is None or joints is None or len(joints) < 9:
            return None
        if stamp - pose_stamp > self.cfg.max_age or stamp - joint_stamp > self.cfg.max_age:
            return None
        _, last_action = self.actions.at_or_before(stamp)
        gripper_action = float(last_action[6]) if last_action is not None else 1.0
        robot_obs = np.concatenate([pose, [joints[7] + joints[8]], joints[:7],
                                    [gripper_action]]).astype(np.float32)
        c = self.cfg
        frame = {"stamp": stamp, "robot_obs": robot_obs,
                 "rgb_static": resize(static, c.static_size) if c.static_size else static,
                 "rgb_gripper": resize(wrist, c.gripper_size) if c.gripper_size else wrist}
        state_stamp, scene = self.state.at_or_before(stamp)
        if scene is not None and stamp - state_stamp <= c.max_age:
            frame["scene_obs"] = scene
        return frame

    def _finish(self, frame: dict, next_stamp: float) -> dict:
        rel = self.actions.last_in(frame["stamp"], next_stamp)
        if rel is None:
            rel = np.zeros(7, np.float32)
            rel[6] = frame["robot_obs"][14]
        pose = frame["robot_obs"][:6]
        absolute = np.concatenate([pose[:3] + rel[:3] * self.cfg.pos_scale,
                                   pose[3:6] + rel[3:6] * self.cfg.rot_scale, rel[6:7]])
        out = {k: v for k, v in frame.items() if k != "stamp"}
        out["rel_actions"] = rel.astype(np.float32)
        out["actions"] = absolute.astype(np.float32)
        out["stamp"] = frame["stamp"]
        return out


class EpisodeWriter:
    """Stage frames of one episode at a time inside a split; commit or discard it."""

    def __init__(self, split_dir: str | Path) -> None:
        self.writer = SplitWriter(split_dir)     # removes stale staging dirs of crashed runs
        self.dir = self.writer.dir
        self.staged: Path | None = None
        self.start = 0
        self.vectors: dict[str, list] = {}
        self.stamps: list[float] = []

    @property
    def recording(self) -> bool:
        return self.staged is not None

    @property
    def frames(self) -> int:
        return len(self.stamps)

    @property
    def episodes(self) -> int:
        return len(self.writer.episodes)

    def begin(self) -> None:
        if self.recording:
            raise RecordingError("an episode is already being recorded")
        self.staged = self.writer.staging_dir()
        self.start = self.writer.next_index
        self.vectors, self.stamps = {}, []

    def append(self, frame: dict) -> None:
        """Write one frame to the staging directory (a full disk raises RecordingError)."""
        if not self.recording:
            raise RecordingError("no episode is being recorded")
        arrays = {k: v for k, v in frame.items() if k != "stamp"}
        index = self.start + self.frames
        try:
            np.savez_compressed(self.staged / frame_name(index), **arrays)
        except OSError as exc:
            raise RecordingError(f"cannot write {self.staged / frame_name(index)}: {exc}") \
                from exc
        for key in VECTORS:
            if key in arrays:
                self.vectors.setdefault(key, []).append(arrays[key])
        self.stamps.append(float(frame.get("stamp", 0.0)))

    def commit(self, metadata: dict | None = None) -> tuple[int, int] | None:
        """List the staged episode in the split and refresh statistics.yaml; None if empty."""
        if not self.recording:
            raise RecordingError("no episode is being recorded")
        if not self.frames:
            self.discard()
            return None
        frames = {k: np.stack(v) for k, v in self.vectors.items()}
        meta = {"source": "recording", "frames": self.frames, "first_stamp": self.stamps[0],
                "last_stamp": self.stamps[-1], "moments": moments(frames), **(metadata or {})}
        try:
            ids = self.writer.commit(self.staged, self.start, self.frames, meta)
            parts = [m["moments"] for m in read_episode_meta(self.dir) if "moments" in m]
            write_statistics(self.dir, merge_moments(parts))
        except OSError as exc:
            raise RecordingError(f"cannot commit the episode in {self.dir}: {exc}") from exc
        self.staged = None
        return ids

    def discard(self) -> None:
        """Drop the staged episode; the dataset is as before ``begin``."""
        if self.staged is not None:
            shutil.rmtree(self.staged, ignore_errors=True)
        self.staged = None
        self.vectors, self.stamps = {}, []
