"""Image conversion without cv_bridge and approximate time synchronisation."""

import numpy as np
import pytest

from lumos_ros.conversions import image_to_rgb, rgb_to_image
from lumos_ros.sync import ApproximateSync


def test_rgb_round_trip_and_encodings():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    msg = rgb_to_image(rgb, frame_id="cam")
    assert msg.encoding == "rgb8" and msg.step == 21 and msg.header.frame_id == "cam"
    assert np.array_equal(image_to_rgb(msg), rgb)
    msg.encoding = "bgr8"
    assert np.array_equal(image_to_rgb(msg), rgb[:, :, ::-1])


def test_row_padding_is_respected():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    msg = rgb_to_image(rgb)
    padded = np.zeros((2, 12), np.uint8)
    padded[:, :9] = rgb.reshape(2, 9)
    msg.step, msg.data = 12, padded.tobytes()
    assert np.array_equal(image_to_rgb(msg), rgb)


def test_bad_images():
    msg = rgb_to_image(np.zeros((2, 2, 3), np.uint8))
    msg.encoding = "16UC1"
    with pytest.raises(ValueError, match="16UC1.*not supported"):
        image_to_rgb(msg)
    msg.encoding, msg.data = "rgb8", b"\x00" * 5
    with pytest.raises(ValueError, match="too short"):
        image_to_rgb(msg)


def test_approximate_sync_pairs_within_slop():
    pairs = []
    sync = ApproximateSync(2, 0.02, lambda a, b: pairs.append((a, b)))
    for t in (0.000, 0.033, 0.066, 0.100):
        sync.add(0, t, f"s{t}")
    for t in (0.010, 0.040, 0.150):       # 0.150 has no partner: no match for it
        sync.add(1, t, f"g{t}")
    assert pairs == [("s0.0", "g0.01"), ("s0.033", "g0.04")]
    assert sync.matched == 2 and sync.dropped >= 1


def test_out_of_order_messages_are_dropped():
    sync = ApproximateSync(2, 0.02, lambda *m: None)
    sync.add(0, 1.0, "a")
    sync.add(0, 0.5, "late")
    assert sync.dropped == 1 and sync.pending()[0] == 1
    with pytest.raises(ValueError):
        ApproximateSync(1, 0.02, print)


def test_joint_order_by_name():
    from lumos_ros.conversions import panda_joint_positions

    names = ["fr3_finger_joint1", "fr3_joint2", "fr3_joint1", "fr3_finger_joint2"] + \
        [f"fr3_joint{i}" for i in range(3, 8)]
    positions = [0.04, 2.0, 1.0, 0.035, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert panda_joint_positions(names, positions).tolist() == pytest.approx(
        [1, 2, 3, 4, 5, 6, 7, 0.04, 0.035])
    assert panda_joint_positions([], [1.0, 2.0]).tolist() == [1.0, 2.0], "no names: as given"
