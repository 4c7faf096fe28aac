"""FrameAssembler and EpisodeWriter (lumos_core.data.recording) without ROS."""

import errno

import numpy as np
import pytest

from lumos_core.data.calvin import read_episode_ids, read_statistics
from lumos_core.data.dataset import PlayData
from lumos_core.data.recording import (AssemblerConfig, EpisodeWriter, FrameAssembler,
                                       RecordingError)

DT = 1 / 30          # a 30 Hz camera


def _messages(n=12, seed=0):
    """(kind, stamp, payload) of a 30 Hz camera, 30 Hz robot state, 15 Hz actions."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = 100.0 + i * DT
        out.append(("pose", t - 0.004, (rng.normal(size=3), rng.normal(size=3))))
        out.append(("joints", t - 0.002, rng.normal(size=9)))
        out.append(("images", t, (np.full((8, 8, 3), i, np.uint8),
                                  np.full((6, 6, 3), 200 - i, np.uint8))))
        if i % 2 == 0:
            gripper = 1.0 if i < 6 else -1.0
            out.append(("action", t + 0.01, np.r_[rng.uniform(-1, 1, 6), gripper]))
    return out


def _assemble(messages, cfg=None):
    asm = FrameAssembler(cfg or AssemblerConfig(rate=15.0, static_size=0, gripper_size=0))
    frames = []
    for kind, stamp, payload in messages:
        if kind == "pose":
            asm.add_pose(stamp, *payload)
        elif kind == "joints":
            asm.add_joints(stamp, payload)
        elif kind == "action":
            asm.add_action(stamp, payload)
        else:
            frame = asm.add_images(stamp, *payload)
            if frame is not None:
                frames.append(frame)
    last = asm.flush()
    return frames + ([last] if last is not None else []), asm


def test_frames_at_the_rate_with_the_action_that_follows_each():
    messages = _messages()
    frames, asm = _assemble(messages)
    assert len(frames) == 6 and asm.dropped == 0          # 12 camera frames at 30 -> 15 Hz
    stamps = [f["stamp"] for f in frames]
    assert np.allclose(np.diff(stamps), 2 * DT)
    actions = [(s, p) for k, s, p in messages if k == "action"]
    for frame, (stamp, action) in zip(frames, actions):
        assert stamp > frame["stamp"]
        assert np.allclose(frame["rel_actions"], action)
    # robot_obs: pose 6, gripper width (finger sum), 7 joints, last gripper action before
    pose, joints = messages[0][2], messages[1][2]
    obs = frames[0]["robot_obs"]
    assert np.allclose(obs[:3], pose[0]) and np.allclose(obs[3:6], pose[1])
    assert np.isclose(obs[6], joints[7] + joints[8]) and np.allclose(obs[7:14], joints[:7])
    assert obs[14] == 1.0 and frames[4]["robot_obs"][14] == -1.0
    # absolute action = pose + rel * scale
    assert np.allclose(frames[0]["actions"][:3], obs[:3] + frames[0]["rel_actions"][:3] * 0.02,
                       atol=1e-6)


def test_cross_topic_order_does_not_matter():
    messages = _messages()
    reordered = []
    for i in range(0, len(messages)):           # robot state arrives after its images
        kind = messages[i][0]
        reordered.append(messages[i])
        if kind == "images" and i >= 2 and reordered[-3][0] == "pose":
            reordered[-3], reordered[-1] = reordered[-1], reordered[-3]
    a, _ = _assemble(messages)
    b, _ = _assemble(reordered)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for key in x:
            assert np.array_equal(x[key], y[key]), key


def test_stale_robot_state_drops_the_frame_and_no_action_means_zero_motion():
    messages = [m for m in _messages() if not (m[0] == "pose" and 100.1 < m[1] < 100.3)]
    frames, asm = _assemble(messages, AssemblerConfig(rate=30.0, max_age=0.05, static_size=0,
                                                      gripper_size=0))
    # the last frame has no action after it: not written
    assert asm.dropped > 0 and len(frames) == 12 - asm.dropped - 1
    idle = [f for f in frames if not np.any(f["rel_actions"][:6])]
    assert idle, "30 Hz frames with 15 Hz actions: every other frame has no action"
    assert all(f["rel_actions"][6] == f["robot_obs"][14] for f in idle)


def test_images_are_resized():
    frames, _ = _assemble(_messages(), AssemblerConfig(static_size=16, gripper_size=4))
    assert frames[0]["rgb_static"].shape == (16, 16, 3)
    assert frames[0]["rgb_gripper"].shape == (4, 4, 3)


def test_episode_writer_commit_discard_and_statistics(tmp_path):
    frames, _ = _assemble(_messages())
    writer = EpisodeWriter(tmp_path / "training")
    writer.begin()
    for f in frames:
        writer.append(f)
    assert writer.commit({"note": "first"}) == (0, 5)
    writer.begin()
    writer.append(frames[0])
    writer.discard()
    writer.begin()
    for f in frames[:3]:
        writer.append(f)
    assert writer.commit() == (6, 8)
    assert read_episode_ids(tmp_path / "training").tolist() == [[0, 5], [6, 8]]
    assert set(read_statistics(tmp_path / "training")) >= {"robot_obs", "rel_actions"}
    data = PlayData(tmp_path / "training", 8, progress=False)
    assert len(data) == 9 and data.arrays["rgb_static"].shape == (9, 8, 8, 3)
    with pytest.raises(RecordingError, match="no episode"):
        writer.append(frames[0])


def test_a_full_disk_raises_and_lists_nothing(tmp_path, monkeypatch):
    frames, _ = _assemble(_messages())
    writer = EpisodeWriter(tmp_path / "training")
    writer.begin()
    writer.append(frames[0])

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    with pytest.raises(RecordingError, match="No space left"):
        writer.append(frames[1])
    writer.discard()
    assert not list((tmp_path / "training").glob(".incoming-*"))
    assert read_episode_ids(tmp_path / "training").tolist() == []


def test_teleop_velocity_to_action_matches_the_executor_inverse():
    from lumos_ros.teleop import twist_to_action

    a = twist_to_action([1, 0, -0.5, 0, 0, 2], -1.0, 1 / 15, lin_speed=0.15, rot_speed=0.5,
                        pos_scale=0.02, rot_scale=0.05)
    # 0.15 m/s over 1/15 s = 1 cm = 0.5 normalised units; the executor multiplies by 0.02 again
    assert np.allclose(a[:3] * 0.02, [0.01, 0.0, -0.005])
    assert a[5] == 1.0, "2 * 0.5 rad/s / 15 / 0.05 = 1.33 -> clipped to 1"
    assert a[6] == -1.0


def test_teleop_script_is_validated(tmp_path):
    from lumos_ros.teleop import load_script

    good = tmp_path / "good.yaml"
    good.write_text("- {event: start}\n- {twist: [0, 0, 1, 0, 0, 0], seconds: 0.5}\n"
                    "- {gripper: close}\n- {wait: 1}\n- {event: stop}\n")
    assert len(load_script(good)) == 5
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {event: start}\n- {twist: [0, 0, 1], seconds: 0.5}\n")
    with pytest.raises(ValueError, match="step 1"):
        load_script(bad)
    with pytest.raises(FileNotFoundError, match="missing.yaml not found"):
        load_script(tmp_path / "missing.yaml")
    not_a_list = tmp_path / "dict.yaml"
    not_a_list.write_text("twist: [0, 0, 0, 0, 0, 0]\n")
    with pytest.raises(ValueError, match="expected a YAML list"):
        load_script(not_a_list)
    # a relative name is found in the package's config/
    assert load_script("teleop_script_sim.yaml")
