"""Turning relative policy actions into safe robot targets (the robot bridge's logic, no ROS).

CALVIN convention (shared/reference/franka-ros2-contract.md §3): action
``[dx, dy, dz, droll, dpitch, dyaw, g]`` in the robot base frame, position deltas normalised by
``pos_scale`` (0.02 m), euler deltas by ``rot_scale`` (0.05 rad), each in [-1, 1]; ``g`` > 0
opens. The integrator inverts exactly that normalisation; the safety layer rejects non-finite
actions, limits the step, clamps the target into a workspace box and keeps it within reach of the
measured pose; the gripper debouncer turns a noisy sign into rare, deliberate commands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def wrap(angle):
    """Wrap angles to [-pi, pi)."""
    return (np.asarray(angle, dtype=float) + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class SafetyLimits:
    """Limits the executor enforces on every target."""

    workspace_min: tuple[float, float, float] = (0.25, -0.35, 0.02)
    workspace_max: tuple[float, float, float] = (0.75, 0.35, 0.60)
    max_step_translation: float = 0.02      # metres per action
    max_step_rotation: float = 0.1          # radians per action
    max_target_distance: float = 0.05       # metres between target and measured pose
    max_target_angle: float = 0.2           # radians between target and measured orientation

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.workspace_min), np.asarray(self.workspace_max)
        if lo.shape != (3,) or hi.shape != (3,) or np.any(lo >= hi):
            raise ValueError(f"workspace_min {self.workspace_min} must be below workspace_max "
                             f"{self.workspace_max} on every axis")
        for name in ("max_step_translation", "max_step_rotation", "max_target_distance",
                     "max_target_angle"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass
class TargetUpdate:
    """Result of one action: the new target and what the safety layer changed."""

    position: np.ndarray
    euler: np.ndarray
    clamped: list[str]


class ActionIntegrator:
    """Integrates normalised relative actions into an end-effector target pose."""

    def __init__(self, limits: SafetyLimits | None = None, pos_scale: float = 0.02,
                 rot_scale: float = 0.05, integrate_from: str = "measured") -> None:
        if integrate_from not in ("measured", "commanded"):
            raise ValueError(f"integrate_from must be 'measured' or 'commanded', got "
                             f"{integrate_from!r}")
        if pos_scale <= 0 or rot_scale <= 0:
            raise ValueError("pos_scale and rot_scale must be positive")
        self.limits = limits or SafetyLimits()
        self.pos_scale = pos_scale
        self.rot_scale = rot_scale
        self.integrate_from = integrate_from
        self.target: tuple[np.ndarray, np.ndarray] | None = None

    def reseed(self, position, euler) -> None:
        """Set the target to the measured pose (on (re)activation: never jump)."""
        self.target = (np.asarray(position, float).copy(), np.asarray(euler, float).copy())

    def apply(self, action, measured_position, measured_euler) -> TargetUpdate:
        """New target from ``action``; raises ValueError for a malformed or non-finite action."""
        action = np.asarray(action, dtype=float)
        if action.shape != (7,):
            raise ValueError(f"action must have 7 values, got shape {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN or inf: {action.tolist()}")
        pos_m = np.asarray(measured_position, float)
        eul_m = np.asarray(measured_euler, float)
        if (pos_m.shape != (3,) or eul_m.shape != (3,) or not np.all(np.isfinite(pos_m))
                or not np.all(np.isfinite(eul_m))):
            raise ValueError(f"measured pose must be finite 3 + 3 values, got "
                             f"{pos_m.tolist()} / {eul_m.tolist()}")
        if self.target is None or self.integrate_from == "measured":
            self.reseed(pos_m, eul_m)
        lim = self.limits
        clamped = []
        a = np.clip(action, -1, 1)
        if np.any(a != action):
            clamped.append("action_range")
        dpos = a[:3] * self.pos_scale
        drot = a[3:6] * self.rot_scale
        if np.linalg.norm(dpos) > lim.max_step_translation:
            dpos *= lim.max_step_translation / np.linalg.norm(dpos)
            clamped.append("step_translation")
        if np.max(np.abs(drot)) > lim.max_step_rotation:
            drot *= lim.max_step_rotation / np.max(np.abs(drot))
            clamped.append("step_rotation")
        pos = self.target[0] + dpos
        eul = wrap(self.target[1] + drot)
        # reach first, the box last: the box is the guarantee. Clamping into a box never moves
        # a point away from another point inside it, so with the measured pose inside the box
        # the target stays within reach too (the reverse order let the reach limit pull
        # targets out of the box: z = 0.001-0.018 m under workspace_min z = 0.02).
        offset = pos - pos_m
        if np.linalg.norm(offset) > lim.max_target_distance:
            pos = pos_m + offset * lim.max_target_distance / np.linalg.norm(offset)
            clamped.append("target_distance")
        boxed = np.clip(pos, lim.workspace_min, lim.workspace_max)
        if np.any(boxed != pos):
            clamped.append("workspace")
        pos = boxed
        dang = wrap(eul - eul_m)
        if np.max(np.abs(dang)) > lim.max_target_angle:
            eul = wrap(eul_m + np.clip(dang, -lim.max_target_angle, lim.max_target_angle))
            clamped.append("target_angle")
        self.target = (pos, eul)
        return TargetUpdate(pos.copy(), eul.copy(), clamped)


class GripperDebouncer:
    """Open/close only after ``agree`` consecutive agreeing steps and ``min_interval`` seconds
    since the last change; only state changes are commands."""

    def __init__(self, agree: int = 2, min_interval: float = 0.5, initially_open: bool = True):
        if agree < 1 or min_interval < 0:
            raise ValueError("agree must be >= 1 and min_interval >= 0")
        self.agree = agree
        self.min_interval = min_interval
        self.open = initially_open
        self._streak = 0
        self._last_change = -np.inf

    def update(self, gripper: float, now: float) -> bool | None:
        """``True``/``False`` to open/close now, ``None`` for no command."""
        wants_open = gripper > 0
        if wants_open == self.open:
            self._streak = 0
            return None
        self._streak += 1
        if self._streak < self.agree or now - self._last_change < self.min_interval:
            return None
        self.open = wants_open
        self._streak = 0
        self._last_change = now
        return wants_open


def quaternion_from_euler(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """(x, y, z, w) of extrinsic x-y-z (roll, pitch, yaw) rotations -- ROS RPY, PyBullet's
    ``getQuaternionFromEuler``."""
    cr, sr = np.cos(roll / 2), np.sin(roll / 2)
    cp, sp = np.cos(pitch / 2), np.sin(pitch / 2)
    cy, sy = np.cos(yaw / 2), np.sin(yaw / 2)
    return np.array([sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
                     cr * cp * sy - sr * sp * cy, cr * cp * cy + sr * sp * sy])


def euler_from_quaternion(q) -> np.ndarray:
    """Inverse of :func:`quaternion_from_euler` (the quaternion is renormalised first)."""
    x, y, z, w = np.asarray(q, dtype=float) / np.linalg.norm(q)
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.array([roll, pitch, yaw])


#: the action_executor node's parameter files (under config/), applied in order: a real robot's,
#: and on the simulated table the simulator's workspace box and per-axis step over them
EXECUTOR_FILES = {"robot": ("action_executor.yaml",),
                  "sim": ("action_executor.yaml", "action_executor_sim.yaml")}


class ExecutorParametersError(ValueError):
    """An action_executor parameter file or set that cannot be used."""


def executor_parameters(files) -> dict:
    """The action_executor parameters that ``files`` give (names under config/, or paths;
    applied in order, as ``--params-file`` does); raises
    :class:`~lumos_core.paths.ParameterFileError` naming a bad file."""
    from lumos_core.paths import ros_parameters

    return ros_parameters(files)


@dataclass(frozen=True)
class ExecutedStep:
    """What the executor does with one action."""

    update: TargetUpdate          # the new target (and what was clamped)
    command: bool | None          # gripper command now: True open, False close, None none
    gripper_open: bool            # the gripper's commanded state after this step
    executed: np.ndarray          # the executed 7-d action (normalised; gripper +1/-1)


class ExecutorLoop:
    """The action_executor's per-action arithmetic, shared by the ROS node and ``lumos evaluate
    --executor``: the target integrated from the measured pose (limited, boxed), the gripper
    command of the debouncer, and the executed action the node publishes (what the world-model
    filter conditions on in ROS). Without a clock (``now``) steps are ``control_period`` apart,
    so an evaluation measures what the executor's limits cost a policy before it meets the
    robot; with the simulator's files (``EXECUTOR_FILES['sim']``) it reproduces ``env.step``."""

    def __init__(self, limits: SafetyLimits | None = None, pos_scale: float = 0.02,
                 rot_scale: float = 0.05, integrate_from: str = "measured",
                 gripper_agree_steps: int = 2, gripper_min_interval: float = 0.5,
                 control_period: float = 1 / 15) -> None:
        self.integrator = ActionIntegrator(limits, pos_scale, rot_scale, integrate_from)
        self.gripper = GripperDebouncer(gripper_agree_steps, gripper_min_interval)
        self.period = control_period
        self.steps = 0

    @classmethod
    def from_parameters(cls, params: dict) -> "ExecutorLoop":
        """From the node's parameters (:func:`executor_parameters`);
        :class:`ExecutorParametersError` names a missing or bad one."""
        try:
            limits = SafetyLimits(tuple(params["workspace_min"]), tuple(params["workspace_max"]),
                                  float(params["max_step_translation"]),
                                  float(params["max_step_rotation"]),
                                  float(params["max_target_distance"]),
                                  float(params["max_target_angle"]))
            return cls(limits, float(params["pos_scale"]), float(params["rot_scale"]),
                       str(params["integrate_from"]), int(params["gripper_agree_steps"]),
                       float(params["gripper_min_interval"]), float(params["control_period"]))
        except KeyError as exc:
            raise ExecutorParametersError(f"executor parameters lack {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ExecutorParametersError(f"executor parameters: {exc}") from None

    def apply(self, action, position, euler, now: float | None = None) -> ExecutedStep:
        """One action from the measured pose; raises ValueError for a malformed one."""
        update = self.integrator.apply(action, position, euler)
        now = self.steps * self.period if now is None else now
        command = self.gripper.update(float(np.asarray(action, float)[6]), now)
        self.steps += 1
        grip = 1.0 if self.gripper.open else -1.0
        executed = np.concatenate([
            np.clip((update.position - np.asarray(position, float))
                    / self.integrator.pos_scale, -1, 1),
            np.clip(wrap(update.euler - np.asarray(euler, float))
                    / self.integrator.rot_scale, -1, 1), [grip]])
        return ExecutedStep(update, command, self.gripper.open, executed)
