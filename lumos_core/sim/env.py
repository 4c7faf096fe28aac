"""PlayTableEnv: a PyBullet play table with a Franka Panda, modelled on CALVIN scene D.

Gymnasium-style API::

    env = PlayTableEnv(SimConfig(static_size=64, gripper_size=64))
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(action)   # 7-D relative action

Observations (CALVIN layout): ``rgb_static`` and ``rgb_gripper`` (uint8 HxWx3), ``robot_obs``
(15: tcp position, tcp euler xyz, gripper width, 7 arm joints, last gripper action) and
``scene_obs`` (24: slider, drawer, button, switch, light bulb, LED, then position + euler of the
red, blue and pink blocks).

Actions: relative end-effector deltas in CALVIN convention -- position * 50 and euler * 20,
each in [-1, 1], gripper +1 open / -1 close -- integrated from the measured TCP pose; or absolute
targets with :meth:`step_absolute` (scripted expert, teleop).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from lumos_core.config import SimConfig
from lumos_core.sim import scene

POS_SCALE = 0.02       # metres per unit of normalised position action (CALVIN: x50)
ROT_SCALE = 0.05       # radians per unit of normalised orientation action (CALVIN: x20)
CONTROL_HZ = 30
SUBSTEPS = 8           # physics at 240 Hz
ARM_JOINTS = list(range(7))
FINGER_JOINTS = [9, 10]
TCP_LINK = 11          # panda_grasptarget
HAND_LINK = 8
NEUTRAL_JOINTS = [0.0, -0.35, 0.0, -2.3, 0.0, 1.95, math.pi / 4]
JOINT_LOWER = [-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973]
JOINT_UPPER = [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973]
WORKSPACE = dict(x=(0.15, 0.80), y=(-0.60, 0.60), z=(0.008, 0.45))
BLOCKS = ("red", "blue", "pink")
FIXTURES = ("slider", "drawer", "button", "switch")
BLOCK_FRICTION = 1.0
SCENE_OBS_DIM = 24
ROBOT_OBS_DIM = 15


def wrap_angle(angle):
    """Wrap angles to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


def relative_action(target_pos, target_euler, gripper, tcp_pos, tcp_euler) -> np.ndarray:
    """CALVIN's ``to_relative_action``: clipped, normalised deltas from the current TCP pose."""
    dpos = np.clip((np.asarray(target_pos) - tcp_pos) / POS_SCALE, -1, 1)
    drot = np.clip(wrap_angle(np.asarray(target_euler) - tcp_euler) / ROT_SCALE, -1, 1)
    return np.concatenate([dpos, drot, [1.0 if gripper > 0 else -1.0]]).astype(np.float32)


class PlayTableEnv:
    """The simulated play table. One instance owns one PyBullet DIRECT client."""

    def __init__(self, config: SimConfig | None = None) -> None:
        import pybullet as p
        import pybullet_data

        self.config = config or SimConfig()
        self.p = p
        self.client = p.connect(p.DIRECT)
        self._tmp = tempfile.TemporaryDirectory(prefix="lumos_sim_")
        self.assets = scene.write_assets(Path(self._tmp.name), pybullet_data.getDataPath())
        self._build()
        self.rng = np.random.default_rng(0)
        self.gripper_action = 1.0
        self.led = 0
        self.lightbulb = 0
        self._button_down = False
        self.steps = 0

    # --- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        p, c = self.p, self.client
        p.resetSimulation(physicsClientId=c)
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        p.setTimeStep(1.0 / (CONTROL_HZ * SUBSTEPS), physicsClientId=c)
        p.setPhysicsEngineParameter(numSolverIterations=50, physicsClientId=c)
        self.table = p.loadURDF(str(self.assets["playtable"]), useFixedBase=True,
                                physicsClientId=c)
        self.robot = p.loadURDF(str(self.assets["panda"]), [0, 0, 0], useFixedBase=True,
                                flags=p.URDF_USE_SELF_COLLISION_EXCLUDE_PARENT,
                                physicsClientId=c)
        self.blocks = {}
        for color in BLOCKS:
            self.blocks[color] = p.loadURDF(str(self.assets[f"block_{color}"]), [0, 0, 0.5],
                                            physicsClientId=c)
            p.changeDynamics(self.blocks[color], -1, lateralFriction=BLOCK_FRICTION,
                             spinningFriction=0.001, rollingFriction=0.0001, physicsClientId=c)
        names = {p.getJointInfo(self.table, j, physicsClientId=c)[12].decode(): j
                 for j in range(p.getNumJoints(self.table, physicsClientId=c))}
        self.links = names
        self.fixture_joint = {name: names[name] for name in FIXTURES}
        for finger in FINGER_JOINTS:
            p.changeDynamics(self.robot, finger, lateralFriction=1.5, spinningFriction=0.01,
                             physicsClientId=c)
        # the finger joints are coupled in the real gripper; mirror them with a gear constraint
        gear = p.createConstraint(self.robot, FINGER_JOINTS[0], self.robot, FINGER_JOINTS[1],
                                  p.JOINT_GEAR, [1, 0, 0], [0, 0, 0], [0, 0, 0],
                                  physicsClientId=c)
        p.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=50, physicsClientId=c)
        self._hold_fixtures()

    def _hold_fixtures(self) -> None:
        """Joint friction for drawer/slider/switch; the button springs back."""
        p, c = self.p, self.client
        friction = {"drawer": 6.0, "slider": 5.0, "switch": 3.0}
        for name, force in friction.items():
            p.setJointMotorControl2(self.table, self.fixture_joint[name], p.VELOCITY_CONTROL,
                                    targetVelocity=0, force=force, physicsClientId=c)
        p.setJointMotorControl2(self.table, self.fixture_joint["button"], p.POSITION_CONTROL,
                                targetPosition=0.0, force=4.0, positionGain=0.3,
                                physicsClientId=c)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` disconnected the simulator."""
        return self.client is None

    def close(self) -> None:
        """Disconnect from PyBullet and remove the generated assets."""
        if self.client is not None:
            self.p.disconnect(physicsClientId=self.client)
            self.client = None
            self._tmp.cleanup()

    def __enter__(self) -> "PlayTableEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- state -------------------------------------------------------------------------------
    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Measured TCP position and euler xyz."""
        state = self.p.getLinkState(self.robot, TCP_LINK, computeForwardKinematics=True,
                                    physicsClientId=self.client)
        return np.array(state[4]), np.array(self.p.getEulerFromQuaternion(state[5]))

    def joint_positions(self) -> np.ndarray:
        """Positions of the 7 arm joints."""
        states = self.p.getJointStates(self.robot, ARM_JOINTS, physicsClientId=self.client)
        return np.array([s[0] for s in states])

    def gripper_width(self) -> float:
        """Distance between the fingers."""
        states = self.p.getJointStates(self.robot, FINGER_JOINTS, physicsClientId=self.client)
        return float(states[0][0] + states[1][0])

    def fixture_state(self, name: str) -> float:
        """Joint position of a fixture."""
        return float(self.p.getJointState(self.table, self.fixture_joint[name],
                                          physicsClientId=self.client)[0])

    def block_pose(self, color: str) -> tuple[np.ndarray, np.ndarray]:
        """Block position and euler xyz."""
        pos, orn = self.p.getBasePositionAndOrientation(self.blocks[color],
                                                        physicsClientId=self.client)
        return np.array(pos), np.array(self.p.getEulerFromQuaternion(orn))

    def block_yaw(self, color: str) -> float:
        """Yaw of a block about the world z axis."""
        _, orn = self.p.getBasePositionAndOrientation(self.blocks[color],
                                                      physicsClientId=self.client)
        return float(self.p.getEulerFromQuaternion(orn)[2])

    def robot_obs(self) -> np.ndarray:
        """CALVIN's 15-d robot state."""
        pos, euler = self.tcp_pose()
        return np.concatenate([pos, euler, [self.gripper_width()], self.joint_positions(),
                               [self.gripper_action]]).astype(np.float32)

    def scene_obs(self) -> np.ndarray:
        """CALVIN's 24-d scene state."""
        parts = [self.fixture_state(name) for name in FIXTURES]
        parts += [float(self.lightbulb), float(self.led)]
        for color in BLOCKS:
            pos, euler = self.block_pose(color)
            parts += list(pos) + list(euler)
        return np.array(parts, dtype=np.float32)

    def contacts(self, color: str) -> set[int]:
        """Robot links touching a block."""
        points = self.p.getContactPoints(self.robot, self.blocks[color],
                                         physicsClientId=self.client)
        return {pt[3] for pt in points}

    def held_block(self) -> str | None:
        """The block both fingers touch, if any."""
        for color in BLOCKS:
            if set(FINGER_JOINTS) <= self.contacts(color):
                return color
        return None

    # --- rendering ---------------------------------------------------------------------------
    def _render(self, eye, target, up, fov, size) -> np.ndarray:
        p = self.p
        view = p.computeViewMatrix(eye, target, up, physicsClientId=self.client)
        proj = p.computeProjectionMatrixFOV(fov, 1.0, 0.01, 3.0, physicsClientId=self.client)
        _, _, rgba, _, _ = p.getCameraImage(size, size, view, proj, shadow=0,
                                            renderer=p.ER_TINY_RENDERER,
                                            flags=p.ER_NO_SEGMENTATION_MASK,
                                            physicsClientId=self.client)
        return np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)[:, :, :3].copy()

    def render_static(self) -> np.ndarray:
        """The static camera: high, on the far side of the table, looking at the robot."""
        return self._render([1.05, 0.0, 0.85], [0.38, 0.0, 0.0], [-1, 0, 0.8], 60,
                            self.config.static_size)

    def render_gripper(self) -> np.ndarray:
        """The wrist camera: on the hand, looking along the gripper."""
        state = self.p.getLinkState(self.robot, HAND_LINK, computeForwardKinematics=True,
                                    physicsClientId=self.client)
        pos, orn = np.array(state[4]), state[5]
        rot = np.array(self.p.getMatrixFromQuaternion(orn)).reshape(3, 3)
        forward, up = rot[:, 2], rot[:, 0]
        eye = pos + 0.05 * forward - 0.05 * up
        return self._render(eye, eye + forward, up, 75, self.config.gripper_size)

    def observation(self) -> dict[str, np.ndarray]:
        """The current observation."""
        obs = {"robot_obs": self.robot_obs(), "scene_obs": self.scene_obs()}
        if self.config.render:
            obs["rgb_static"] = self.render_static()
            obs["rgb_gripper"] = self.render_gripper()
        return obs

    # --- reset -------------------------------------------------------------------------------
    def random_scene(self, rng: np.random.Generator) -> np.ndarray:
        """A random scene_obs: random fixture states, blocks apart on the table."""
        fixtures = [rng.choice([0.0, scene.LID_TRAVEL]), rng.choice([0.0, scene.DRAWER_TRAVEL]),
                    0.0, rng.choice([0.0, scene.SWITCH_X[1] - scene.SWITCH_X[0]])]
        led = float(rng.integers(2))
        bulb = float(fixtures[3] > 0)
        poses = []
        placed: list[np.ndarray] = []
        for color in BLOCKS:
            for _ in range(1000):
                xy = np.array([rng.uniform(*scene.BLOCK_AREA["x"]),
                               rng.uniform(*scene.BLOCK_AREA["y"])])
                if all(np.linalg.norm(xy - other) > 0.09 for other in placed):
                    break
            placed.append(xy)
            z = scene.BLOCK_SIZES[color][2] / 2
            poses += [xy[0], xy[1], z, 0.0, 0.0, rng.uniform(-np.pi / 2, np.pi / 2)]
        return np.array(fixtures + [bulb, led] + poses, dtype=np.float32)

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Reset robot and scene; ``options`` may hold ``scene_obs`` and/or ``robot_obs``."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        options = options or {}
        scene_obs = options.get("scene_obs")
        scene_obs = self.random_scene(self.rng) if scene_obs is None else np.asarray(scene_obs)
        if scene_obs.shape != (SCENE_OBS_DIM,) or not np.all(np.isfinite(scene_obs)):
            raise ValueError(f"scene_obs must be {SCENE_OBS_DIM} finite values, got shape "
                             f"{scene_obs.shape}")
        # a new simulation each episode (15 ms): PyBullet carries solver state from one
        # episode into the next through resets of the bodies (and restoreState), so an episode
        # depended on the episodes before it -- an evaluation worker's chain gave other steps
        # after another chain (measured in session 24; test_env_reset_forgets_the_past)
        self._build()
        p, c = self.p, self.client
        robot_obs = options.get("robot_obs")
        joints = NEUTRAL_JOINTS if robot_obs is None else list(np.asarray(robot_obs)[7:14])
        for j, q in zip(ARM_JOINTS, joints):
            p.resetJointState(self.robot, j, q, physicsClientId=c)
        self.gripper_action = 1.0 if robot_obs is None else float(np.sign(robot_obs[14]) or 1)
        width = 0.08 if robot_obs is None else float(robot_obs[6])
        for finger in FINGER_JOINTS:
            p.resetJointState(self.robot, finger, width / 2, physicsClientId=c)
        for name, q in zip(FIXTURES, scene_obs[:4]):
            p.resetJointState(self.table, self.fixture_joint[name], float(q), physicsClientId=c)
        self.lightbulb, self.led = int(round(scene_obs[4])), int(round(scene_obs[5]))
        self._button_down = False
        for i, color in enumerate(BLOCKS):
            pose = scene_obs[6 + 6 * i: 12 + 6 * i]
            orn = p.getQuaternionFromEuler(pose[3:].tolist())
            p.resetBasePositionAndOrientation(self.blocks[color], pose[:3].tolist(), orn,
                                              physicsClientId=c)
            p.resetBaseVelocity(self.blocks[color], [0, 0, 0], [0, 0, 0], physicsClientId=c)
        self._update_lights()
        pos, euler = self.tcp_pose()
        self._target = (pos, euler)
        self._command(pos, euler, self.gripper_action)
        for _ in range(10):  # let blocks settle
            p.stepSimulation(physicsClientId=c)
        self.steps = 0
        return self.observation(), self.info()

    def info(self) -> dict:
        """Extra state: the held block and the step counter."""
        return {"held_block": self.held_block(), "steps": self.steps}

    # --- control -----------------------------------------------------------------------------
    def _ik(self, pos, euler) -> list[float]:
        orn = self.p.getQuaternionFromEuler(list(euler))
        ranges = [u - lo for lo, u in zip(JOINT_LOWER, JOINT_UPPER)]
        rest = list(NEUTRAL_JOINTS)
        rest[6] = float(np.clip(NEUTRAL_JOINTS[6] + wrap_angle(euler[2]), -2.8, 2.8))
        sol = self.p.calculateInverseKinematics(
            self.robot, TCP_LINK, list(pos), orn, lowerLimits=JOINT_LOWER, upperLimits=JOINT_UPPER,
            jointRanges=ranges, restPoses=rest, maxNumIterations=40, residualThreshold=1e-4,
            physicsClientId=self.client)
        return list(sol[:7])

    def _command(self, pos, euler, gripper: float) -> None:
        p, c = self.p, self.client
        joints = self._ik(pos, euler)
        p.setJointMotorControlArray(self.robot, ARM_JOINTS, p.POSITION_CONTROL,
                                    targetPositions=joints, forces=[87] * 4 + [12] * 3,
                                    positionGains=[0.25] * 7, physicsClientId=c)
        width = 0.04 if gripper > 0 else 0.0
        p.setJointMotorControlArray(self.robot, FINGER_JOINTS, p.POSITION_CONTROL,
                                    targetPositions=[width, width], forces=[30, 30],
                                    physicsClientId=c)

    def _update_lights(self) -> None:
        """The bulb follows the switch; both lights show their state by colour."""
        half = (scene.SWITCH_X[1] - scene.SWITCH_X[0]) / 2
        self.lightbulb = int(self.fixture_state("switch") > half)
        p, c = self.p, self.client
        p.changeVisualShape(self.table, self.links["led"], rgbaColor=scene.LED_ON
                            if self.led else scene.LED_OFF, physicsClientId=c)
        p.changeVisualShape(self.table, self.links["lightbulb"], rgbaColor=scene.BULB_ON
                            if self.lightbulb else scene.BULB_OFF, physicsClientId=c)

    def step_absolute(self, pos, euler, gripper: float):
        """Move towards an absolute TCP target (clipped to the workspace) for one control step."""
        pos = np.asarray(pos, dtype=float)
        euler = np.asarray(euler, dtype=float)
        finite = np.all(np.isfinite(pos)) and np.all(np.isfinite(euler))
        if pos.shape != (3,) or euler.shape != (3,) or not finite:
            raise ValueError("absolute target must be a finite 3-d position and 3-d euler")
        pos = np.clip(pos, [WORKSPACE[k][0] for k in "xyz"], [WORKSPACE[k][1] for k in "xyz"])
        self.gripper_action = 1.0 if gripper > 0 else -1.0
        self._command(pos, euler, self.gripper_action)
        for _ in range(SUBSTEPS):
            self.p.stepSimulation(physicsClientId=self.client)
            self._update_button()
        self._update_lights()
        self.steps += 1
        return self.observation(), 0.0, False, False, self.info()

    def _update_button(self) -> None:
        """Every press of the button (a falling edge past BUTTON_PRESS) toggles the LED."""
        pressed = self.fixture_state("button") > scene.BUTTON_PRESS
        if pressed and not self._button_down:
            self.led = 1 - self.led
        self._button_down = pressed

    def step(self, action):
        """One control step with a 7-D normalised relative action (CALVIN convention)."""
        action = np.asarray(action, dtype=float)
        if action.shape != (7,):
            raise ValueError(f"action must have 7 values (dx dy dz droll dpitch dyaw gripper), "
                             f"got shape {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN or inf: {action.tolist()}")
        action = np.clip(action, -1, 1)
        pos, euler = self.tcp_pose()
        return self.step_absolute(pos + action[:3] * POS_SCALE,
                                  euler + action[3:6] * ROT_SCALE, action[6])
