"""teleop: spacemouse / joystick / keyboard / script -> RelativeAction (the policy's convention).

Inputs (``input`` parameter):

- ``twist``: ``geometry_msgs/Twist`` on ``twist_topic`` (spacenav's ``/spacenav/twist``, values
  about [-1, 1]) and ``sensor_msgs/Joy`` on ``joy_topic`` for the buttons;
- ``keyboard``: keys read from this process's terminal (see ``KEYS``);
- ``script``: a YAML list of steps played once, e.g. ``{twist: [0, 0, -1, 0, 0, 0], seconds: 1}``,
  ``{gripper: close}``, ``{event: start}`` -- the scripted teleop source for simulation and tests.

At ``rate`` Hz the latest command becomes an action: linear velocity ``v * lin_speed`` (m/s) and
angular ``w * rot_speed`` (rad/s) over one period, divided by the executor's ``pos_scale`` /
``rot_scale`` and clipped to [-1, 1] -- exactly what ``action_executor`` inverts, so the
recorded (executed) action equals the commanded one. A command older than ``command_timeout``
counts as zero motion. Buttons: ``gripper_button`` toggles the gripper, ``record_button``
starts/stops an episode, ``discard_button`` discards it (std_msgs/String on ``episode_topic``).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import yaml
from geometry_msgs.msg import Twist
from rclpy.node import Node
from sensor_msgs.msg import Joy
from std_msgs.msg import String

from lumos_ros.launcher import run_node
from lumos_ros.msg import RelativeAction
from lumos_ros.params import Param, declare
from lumos_ros.qos import RELIABLE, SENSOR

INPUTS = ("twist", "keyboard", "script")
#: key -> (axis index 0..5, sign); other keys: g gripper, r record start/stop, x discard
KEYS = {"w": (0, 1), "s": (0, -1), "a": (1, 1), "d": (1, -1), "q": (2, 1), "e": (2, -1),
        "i": (3, 1), "k": (3, -1), "j": (4, 1), "l": (4, -1), "u": (5, 1), "o": (5, -1)}


def twist_to_action(command: np.ndarray, gripper: float, period: float, lin_speed: float,
                    rot_speed: float, pos_scale: float, rot_scale: float) -> np.ndarray:
    """6 velocity commands (about [-1, 1]) + gripper -> a normalised 7-D relative action."""
    command = np.asarray(command, np.float64)
    delta = np.concatenate([command[:3] * lin_speed * period / pos_scale,
                            command[3:6] * rot_speed * period / rot_scale])
    return np.concatenate([np.clip(delta, -1.0, 1.0), [gripper]]).astype(np.float32)


def load_script(path: str | Path) -> list[dict]:
    """Steps of a teleop script; raises ValueError naming a bad step. A relative path is
    looked up in the working directory, then in the package's ``config/`` (where
    ``teleop_script_sim.yaml`` is installed); a missing file raises FileNotFoundError."""
    from lumos_core.paths import config_file

    given = Path(path)
    if not given.is_file() and not given.is_absolute() and config_file(str(given)).is_file():
        given = config_file(str(given))
    if not given.is_file():
        raise FileNotFoundError(f"teleop script {path} not found (looked in {Path.cwd()} and "
                                f"{config_file('')})")
    path = given
    steps = yaml.safe_load(path.read_text())
    if not isinstance(steps, list):
        raise ValueError(f"teleop script {path}: expected a YAML list of steps")
    for i, step in enumerate(steps):
        ok = isinstance(step, dict) and (
            ("twist" in step and len(step["twist"]) == 6 and step.get("seconds", 0) > 0)
            or step.get("gripper") in ("open", "close")
            or step.get("event") in ("start", "stop", "discard")
            or ("wait" in step and step["wait"] >= 0))
        if not ok:
            raise ValueError(f"teleop script {path}: step {i} {step!r}; expected "
                             "{twist: [6 values], seconds: s>0}, {gripper: open|close}, "
                             "{event: start|stop|discard} or {wait: s}")
    return steps


PARAMETERS = (
    Param("input", "twist", "twist (spacenav / joystick), keyboard or script"),
    Param("twist_topic", "spacenav/twist", "Twist input (input=twist)"),
    Param("joy_topic", "spacenav/joy", "Joy input: gripper / record / discard buttons"),
    Param("action_topic", "lumos/action", "RelativeAction output"),
    Param("episode_topic", "lumos/episode_event", "episode events output (start, stop, "
          "discard)"),
    Param("script", "", "input=script: YAML list of steps"),
    Param("rate", 15.0, "actions per second (Hz)", 1.0, 100.0),
    Param("lin_speed", 0.15, "full-stick linear speed (m/s)", 0.0, 1.0),
    Param("rot_speed", 0.5, "full-stick angular speed (rad/s)", 0.0, 3.0),
    Param("pos_scale", 0.02, "metres per unit of normalised position action", 1e-4, 1.0),
    Param("rot_scale", 0.05, "radians per unit of normalised orientation action", 1e-4, 1.0),
    Param("command_timeout", 0.3, "zero motion when the input is older than this (s)",
          0.01, 5.0),
    Param("gripper_button", 0, "Joy button that toggles the gripper (-1: none)", -1, 64),
    Param("record_button", 1, "Joy button that starts / stops an episode (-1: none)", -1, 64),
    Param("discard_button", -1, "Joy button that discards the episode (-1: none)", -1, 64),
)


class Teleop(Node):
    """Operator input -> RelativeAction at a fixed rate, plus episode events."""

    def __init__(self, **kwargs) -> None:
        super().__init__("teleop", **kwargs)
        declare(self, PARAMETERS)
        g = self.get_parameter
        if g("input").value not in INPUTS:
            raise ValueError(f"parameter input={g('input').value!r}; allowed: "
                             f"{', '.join(INPUTS)}")
        self.period = 1.0 / g("rate").value
        self.command = np.zeros(6)
        self.command_time = None
        self.gripper = 1.0
        self.recording = False
        self.buttons: list[int] = []
        self.step = 0
        self.script = load_script(g("script").value) if g("input").value == "script" else []
        self.script_index, self.script_until = 0, None
        self.pub = self.create_publisher(RelativeAction, g("action_topic").value, RELIABLE)
        self.event_pub = self.create_publisher(String, g("episode_topic").value, RELIABLE)
        if g("input").value == "twist":
            self.create_subscription(Twist, g("twist_topic").value, self._on_twist, SENSOR)
            self.create_subscription(Joy, g("joy_topic").value, self._on_joy, SENSOR)
        elif g("input").value == "keyboard":
            threading.Thread(target=self._read_keys, daemon=True).start()
        self.create_timer(self.period, self._tick)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_twist(self, msg: Twist) -> None:
        self.command = np.array([msg.linear.x, msg.linear.y, msg.linear.z,
                                 msg.angular.x, msg.angular.y, msg.angular.z])
        self.command_time = self._now()

    def _on_joy(self, msg: Joy) -> None:
        pressed = [i for i, b in enumerate(msg.buttons)
                   if b and (i >= len(self.buttons) or not self.buttons[i])]
        self.buttons = list(msg.buttons)
        g = self.get_parameter
        for i in pressed:
            if i == g("gripper_button").value:
                self.gripper = -self.gripper
            elif i == g("record_button").value:
                self.event("stop" if self.recording else "start")
            elif i == g("discard_button").value:
                self.event("discard")

    def key(self, char: str) -> None:
        """One key press (keyboard input): motion keys move for one command timeout."""
        if char in KEYS:
            axis, sign = KEYS[char]
            command = np.zeros(6)
            command[axis] = sign
            self.command, self.command_time = command, self._now()
        elif char == "g":
            self.gripper = -self.gripper
        elif char == "r":
            self.event("stop" if self.recording else "start")
        elif char == "x":
            self.event("discard")

    def _read_keys(self) -> None:
        """Single key presses from a terminal (cbreak mode); lines from a pipe."""
        if not sys.stdin.isatty():
            for line in sys.stdin:
                for char in line.strip().lower():
                    self.key(char)
            return
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while self.context.ok():
                char = sys.stdin.read(1)
                if not char:
                    break
                self.key(char.lower())
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def event(self, name: str) -> None:
        """Publish an episode event (start / stop / discard)."""
        self.recording = name == "start"
        self.event_pub.publish(String(data=name))
        self.get_logger().info(f"episode event: {name}")

    def _advance_script(self, now: float) -> None:
        while self.script_index < len(self.script):
            if self.script_until is not None and now < self.script_until:
                return
            if self.script_until is not None:        # the running step ended
                self.command, self.script_until = np.zeros(6), None
                self.script_index += 1
                continue
            step = self.script[self.script_index]
            if "twist" in step:
                self.command, self.command_time = np.asarray(step["twist"], float), now
                self.script_until = now + float(step["seconds"])
                return
            if "wait" in step:
                self.script_until = now + float(step["wait"])
                return
            if "gripper" in step:
                self.gripper = 1.0 if step["gripper"] == "open" else -1.0
            else:
                self.event(step["event"])
            self.script_index += 1

    @property
    def script_done(self) -> bool:
        return self.script_index >= len(self.script)

    def _tick(self) -> None:
        now = self._now()
        if self.script:
            self._advance_script(now)
            if self.script_until is not None:
                self.command_time = now
        command = self.command
        if self.command_time is None or \
                now - self.command_time > self.get_parameter("command_timeout").value:
            command = np.zeros(6)
        g = self.get_parameter
        action = twist_to_action(command, self.gripper, self.period, g("lin_speed").value,
                                 g("rot_speed").value, g("pos_scale").value,
                                 g("rot_scale").value)
        msg = RelativeAction()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.delta = [float(v) for v in action[:6]]
        msg.gripper = float(action[6])
        self.step += 1
        msg.step = self.step
        self.pub.publish(msg)


def main(args=None) -> int:
    """Run the node until shutdown."""
    return run_node(Teleop, "teleop", args)


if __name__ == "__main__":
    sys.exit(main())
