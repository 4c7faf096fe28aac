"""sensor_msgs/Image <-> numpy without cv_bridge (not installable here; broken on numpy 2)."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def image_to_rgb(msg: Image) -> np.ndarray:
    """An RGB uint8 (H, W, 3) array from an rgb8/bgr8/rgba8/bgra8/mono8 Image, honouring
    ``step`` (row padding); raises ValueError naming the unsupported encoding."""
    if msg.encoding not in CHANNELS:
        raise ValueError(f"image encoding {msg.encoding!r} is not supported; use one of "
                         f"{', '.join(CHANNELS)}")
    channels = CHANNELS[msg.encoding]
    row = msg.width * channels
    if msg.step < row or len(msg.data) < msg.step * msg.height:
        raise ValueError(f"image data too short for {msg.width}x{msg.height} {msg.encoding} "
                         f"(step {msg.step}, {len(msg.data)} bytes)")
    buf = np.frombuffer(bytes(msg.data), np.uint8)[: msg.step * msg.height]
    pixels = buf.reshape(msg.height, msg.step)[:, :row].reshape(msg.height, msg.width, channels)
    if msg.encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    if msg.encoding.startswith("bgr"):
        pixels = pixels[:, :, 2::-1]
    return np.ascontiguousarray(pixels[:, :, :3])


def stamp_seconds(stamp) -> float:
    """A builtin_interfaces/Time (e.g. ``msg.header.stamp``) in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def rgb_to_image(rgb: np.ndarray, stamp=None, frame_id: str = "") -> Image:
    """An rgb8 Image from an (H, W, 3) uint8 array."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got {rgb.shape}")
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = rgb.shape[:2]
    msg.encoding = "rgb8"
    msg.step = rgb.shape[1] * 3
    msg.data = rgb.tobytes()
    return msg


def panda_joint_positions(names, positions) -> np.ndarray:
    """The 7 arm joints then the 2 finger joints from a JointState, whatever its order.

    franka_ros2's merged ``/joint_states`` need not list the fingers last; with names, arm joints
    (``*joint1`` .. ``*joint7``) come first in number order, then the ``*finger_joint*``s. Without
    names the message order is taken as it is.
    """
    positions = np.asarray(positions, np.float32)
    names = list(names)
    if len(names) != len(positions) or not names:
        return positions
    fingers = sorted(i for i, n in enumerate(names) if "finger" in n)
    arm = [i for i, n in enumerate(names) if "finger" not in n]
    arm.sort(key=lambda i: (int(names[i][-1]) if names[i][-1:].isdigit() else 99, names[i]))
    return positions[arm + fingers]
