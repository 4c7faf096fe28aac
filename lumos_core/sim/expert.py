"""Scripted expert: a waypoint controller for every task of the play table.

``ScriptedExpert.start(task)`` plans waypoints from the current state; ``act()`` returns the
next absolute TCP target (position, euler, gripper) -- at most ``POS_SCALE`` per step from the
measured pose, so that the recorded relative action is never clipped -- until the plan is done.
Feasibility (``feasible(task, state)``) follows CALVIN's preconditions: placing and stacking need
a held block; fixture tasks need an empty gripper and a fixture in the right state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lumos_core.sim import scene
from lumos_core.sim.env import BLOCKS, POS_SCALE, ROT_SCALE, PlayTableEnv, wrap_angle
from lumos_core.sim.tasks import DRAWER_MOVE, SLIDER_MOVE, TASKS, SceneState

TRANSIT_Z = 0.16
MARGIN = 0.005
OPEN, CLOSE = 1.0, -1.0
#: placing: the held block's underside this far above the container's walls when let go
DROP_CLEARANCE = 0.012
DROP_TOL = 0.012
#: multimodal play: grasp yaws up to this far from the current yaw are candidates
MODE_TURN = 2.3
#: multimodal play: detours only on moves longer than this, sideways by this much
DETOUR_MIN, DETOUR_SIDE = 0.12, 0.07


@dataclass
class Waypoint:
    """A TCP target to reach, then hold for ``settle`` steps.

    ``arrive_gripper``: the gripper command from the step the target is reached on (grasp or
    release on arrival). The decision then depends only on what is observed -- the TCP at the
    grasp point with the gripper still open -- and not on a hidden settle counter: with a
    counter, the same observed state was labelled "open" for the settle steps and "close" once,
    so a policy without memory learned to stay open at the block forever (true-state BC: 0 %
    of lifts; see docs/agents.md, the learning ladder).
    """

    pos: tuple[float, float, float]
    yaw: float
    gripper: float
    tol: float = 0.008
    settle: int = 0
    speed: float = 0.95 * POS_SCALE
    max_steps: int = 90
    arrive_gripper: float | None = None


def _grasp_yaws(block_yaw: float, turns: int = 2) -> list[float]:
    """Gripper yaws that close across the block's short side (the gripper is symmetric under
    a half turn), up to ``turns`` half turns either way of the block's yaw."""
    return [block_yaw + k * math.pi for k in range(-turns, turns + 1)]


def _grasp_yaw(block_yaw: float, bias: float = 0.0) -> float:
    """Gripper yaw that closes across the block's short side, nearest to ``bias``."""
    return min(_grasp_yaws(block_yaw), key=lambda y: abs(y - bias))


class ScriptedExpert:
    """Plans and executes any feasible task of :data:`TASKS` in a :class:`PlayTableEnv`."""

    def __init__(self, env: PlayTableEnv, rng: np.random.Generator | None = None,
                 noise: float = 0.0, multimodal: bool = False) -> None:
        self.env = env
        self.rng = rng or np.random.default_rng(0)
        self.noise = noise
        #: each plan picks one of several ways to do its task (see :meth:`_block_yaw`,
        #: :meth:`_detour`); False: one way per task and state, as the first expert
        self.multimodal = multimodal
        self.plan: list[Waypoint] = []
        self.task: str | None = None
        self._index = 0
        self._count = 0
        self._settled = 0

    # --- state helpers -----------------------------------------------------------------------
    def state(self) -> SceneState:
        """The oracle's view of the current scene."""
        return SceneState(self.env.scene_obs(), self.env.held_block())

    @staticmethod
    def _free_blocks(state: SceneState) -> list[str]:
        """Blocks lying flat on the table with nothing on top and nothing under them."""
        stacked = {b for pair in state.stacked_pairs() for b in pair}
        return [c for c in BLOCKS if state.on_table(c) and c not in stacked
                and not state.tilted(c)]

    @staticmethod
    def _clear_of_blocks(state: SceneState, xy, ignore: str, radius: float) -> bool:
        return all(np.linalg.norm(state.pos(c)[:2] - np.asarray(xy)) > radius
                   for c in BLOCKS if c != ignore)

    def _push_ok(self, state: SceneState, color: str, direction: float) -> bool:
        if color not in self._free_blocks(state):
            return False
        x, y, _ = state.pos(color)
        goal = y + direction * 0.12
        if not -0.25 < goal < 0.28 or not scene.BLOCK_AREA["x"][0] - 0.03 < x < 0.48:
            return False
        path = [(x, y + direction * s) for s in (-0.075, 0.04, 0.08, 0.12)]
        return all(self._clear_of_blocks(state, xy, color, 0.075) for xy in path)

    def _open_compartment(self, state: SceneState) -> str | None:
        if state.slider < 0.03:
            return "left"
        if state.slider > scene.LID_TRAVEL - 0.03:
            return "right"
        return None

    def _stack_targets(self, state: SceneState) -> list[str]:
        return [c for c in self._free_blocks(state) if c != state.held]

    def feasible(self, task: str, state: SceneState | None = None) -> bool:
        """Whether the expert can perform ``task`` from ``state`` (default: now)."""
        state = state or self.state()
        holding = state.held is not None
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
        if task == "place_in_drawer":
            return holding and state.drawer > 0.12
        if task == "place_in_slider":
            return holding and self._open_compartment(state) is not None
        if task == "stack_block":
            return holding and bool(self._stack_targets(state))
        if holding:
            return False
        # a fixture task is feasible while the oracle's minimum move is still possible
        if task == "open_drawer":
            return state.drawer < scene.DRAWER_TRAVEL - DRAWER_MOVE - MARGIN
        if task == "close_drawer":
            return state.drawer > DRAWER_MOVE + MARGIN
        if task == "move_slider_left":
            return state.slider < scene.LID_TRAVEL - SLIDER_MOVE - MARGIN
        if task == "move_slider_right":
            return state.slider > SLIDER_MOVE + MARGIN
        if task in ("turn_on_led", "turn_off_led"):
            return state.led == (task == "turn_off_led")
        if task in ("turn_on_lightbulb", "turn_off_lightbulb"):
            return state.lightbulb == (task == "turn_off_lightbulb")
        if task == "unstack_block":
            return bool(state.stacked_pairs())
        color = task.split("_")[1]
        if task.startswith("lift") or task.startswith("rotate"):
            return color in self._free_blocks(state)
        if task.startswith("push"):
            return self._push_ok(state, color, 1.0 if task.endswith("left") else -1.0)
        raise AssertionError(task)

    def feasible_tasks(self, state: SceneState | None = None) -> list[str]:
        """All tasks the expert can do now."""
        state = state or self.state()
        return [t for t in TASKS if self.feasible(t, state)]

    # --- planning ----------------------------------------------------------------------------
    def start(self, task: str) -> None:
        """Plan ``task`` from the current state."""
        state = self.state()
        if not self.feasible(task, state):
            raise ValueError(f"task {task!r} is not feasible in the current state")
        tcp, euler = self.env.tcp_pose()
        yaw = float(euler[2])
        plan = []
        if tcp[2] < TRANSIT_Z - 0.03:
            plan.append(Waypoint((tcp[0], tcp[1], TRANSIT_Z), yaw, self.env.gripper_action,
                                 tol=0.02))
        steps = getattr(self, "_plan_" + self._family(task))(task, state, yaw)
        if self.multimodal:
            plan += self._detour(tcp, yaw, steps[0])
        self.plan, self.task = plan + steps, task
        self._index, self._count, self._settled = 0, 0, 0

    def start_release(self) -> None:
        """Open the gripper where it is and rise to transit height (leave whatever is held)."""
        tcp, euler = self.env.tcp_pose()
        yaw = float(euler[2])
        self.plan = [Waypoint(tuple(tcp), yaw, OPEN, tol=0.02, settle=6),
                     Waypoint((tcp[0], tcp[1], TRANSIT_Z), yaw, OPEN, tol=0.02)]
        self.task = None
        self._index, self._count, self._settled = 0, 0, 0

    def start_putdown(self) -> None:
        """Put the held block down on a free spot of the table (play between tasks)."""
        state = self.state()
        if state.held is None:
            raise ValueError("no block is held")
        tcp, euler = self.env.tcp_pose()
        spot = self._free_spot(state, state.held)
        h = scene.BLOCK_SIZES[state.held][2]
        self.plan = self._release_at(spot, h / 2 + 0.012, float(euler[2]))
        self.task = None
        self._index, self._count, self._settled = 0, 0, 0

    def _detour(self, tcp: np.ndarray, yaw: float, first: Waypoint) -> list[Waypoint]:
        """Multimodal play: a third of the moves to the task's first waypoint go straight, a
        third pass a point 7 cm to the left of the straight line's midpoint, a third 7 cm to
        the right (sideways in the table plane; moves over 12 cm only). The average of the
        three paths is the straight one, so a detour is a mode that a plan can name and an
        averaging policy cannot copy."""
        mode = int(self.rng.integers(3)) - 1
        goal = np.asarray(first.pos, dtype=float)
        if mode == 0 or np.linalg.norm(goal - tcp) < DETOUR_MIN:
            return []
        delta = goal[:2] - tcp[:2]
        flat = float(np.linalg.norm(delta))
        side = np.array([-delta[1], delta[0]]) / flat if flat > 0.05 else np.array([0.0, 1.0])
        x, y = (tcp[:2] + goal[:2]) / 2 + mode * DETOUR_SIDE * side
        z = max((float(tcp[2]) + goal[2]) / 2, TRANSIT_Z - 0.03)
        halfway = yaw + float(wrap_angle(first.yaw - yaw)) / 2   # the turn shared by both legs
        return [Waypoint((float(x), float(y), z), halfway, first.gripper, tol=0.03)]

    def _block_yaw(self, block_yaw: float, yaw: float) -> float:
        """The gripper yaw to grasp a block at (``yaw``: the TCP's now).

        One mode: across the short side, nearest to yaw 0. Multimodal play: either of the
        equivalent yaws (the gripper is symmetric under a half turn) within ``MODE_TURN`` of
        the current yaw, chosen at random: the wrist turns one way or the other, and the
        average of the two turns (an action a mean-squared-error policy learns) is neither.
        """
        if not self.multimodal:
            return _grasp_yaw(block_yaw)
        candidates = [c for c in _grasp_yaws(block_yaw, turns=3) if abs(c - yaw) <= MODE_TURN]
        return float(candidates[int(self.rng.integers(len(candidates)))])

    @staticmethod
    def _family(task: str) -> str:
        for family in ("lift", "push", "rotate", "place_in_drawer", "place_in_slider", "unstack",
                       "stack", "drawer", "slider", "lightbulb", "led"):
            if family in task:
                return family
        raise AssertionError(task)

    def _grasp(self, color: str, state: SceneState, yaw: float) -> list[Waypoint]:
        x, y, z = state.pos(color)
        return [Waypoint((x, y, TRANSIT_Z - 0.03), yaw, OPEN, tol=0.012),
                Waypoint((x, y, max(z, 0.012)), yaw, OPEN, tol=0.006, arrive_gripper=CLOSE),
                Waypoint((x, y, max(z, 0.012)), yaw, CLOSE, tol=0.02, settle=10)]

    def _plan_lift(self, task, state, yaw):
        color = task.split("_")[1]
        x, y, _ = state.pos(color)
        grasp = self._block_yaw(state.yaw(color), yaw)
        return self._grasp(color, state, grasp) + [
            Waypoint((x, y, TRANSIT_Z), grasp, CLOSE, tol=0.015)]

    def _plan_rotate(self, task, state, yaw):
        color = task.split("_")[1]
        sign = 1.0 if task.endswith("left") else -1.0
        grasp = _grasp_yaw(state.yaw(color), bias=-0.5 * sign)
        x, y, z = state.pos(color)
        z = max(z, 0.012)
        return self._grasp(color, state, grasp) + [
            Waypoint((x, y, z + 0.015), grasp, CLOSE, tol=0.006),
            Waypoint((x, y, z + 0.015), grasp + sign * 1.1, CLOSE, tol=0.01, max_steps=60),
            Waypoint((x, y, z + 0.004), grasp + sign * 1.1, CLOSE, tol=0.006,
                     arrive_gripper=OPEN),
            Waypoint((x, y, z + 0.004), grasp + sign * 1.1, OPEN, tol=0.02, settle=6),
            Waypoint((x, y, TRANSIT_Z), grasp + sign * 1.1, OPEN, tol=0.02)]

    def _plan_push(self, task, state, yaw):
        color = task.split("_")[1]
        sign = 1.0 if task.endswith("left") else -1.0
        x, y, _ = state.pos(color)
        return [Waypoint((x, y - sign * 0.075, TRANSIT_Z - 0.04), 0.0, CLOSE, tol=0.01),
                Waypoint((x, y - sign * 0.075, 0.02), 0.0, CLOSE, tol=0.006),
                Waypoint((x, y + sign * 0.11, 0.02), 0.0, CLOSE, tol=0.008, speed=0.012),
                Waypoint((x, y + sign * 0.11, TRANSIT_Z), 0.0, CLOSE, tol=0.02)]

    def _held_offset(self) -> np.ndarray:
        held = self.env.held_block()
        tcp, _ = self.env.tcp_pose()
        return self.env.block_pose(held)[0] - tcp

    def _release_at(self, block_xy, block_z, yaw, tol: float = 0.008) -> list[Waypoint]:
        offset = self._held_offset()
        x, y = np.asarray(block_xy) - offset[:2]
        z = block_z - offset[2]
        return [Waypoint((x, y, max(TRANSIT_Z, z + 0.05)), yaw, CLOSE, tol=0.012),
                Waypoint((x, y, z), yaw, CLOSE, tol=tol, arrive_gripper=OPEN),
                Waypoint((x, y, z), yaw, OPEN, tol=0.02, settle=8),
                Waypoint((x, y, TRANSIT_Z), yaw, OPEN, tol=0.02)]

    # Placing drops the block from just above the container's walls. Lowering it inside
    # (the first expert) threaded the hand -- 20 cm across its fingers' axis -- into an 18 cm
    # compartment: it fitted only at the right yaw and within millimetres, and a policy a
    # centimetre or a few degrees off pressed on a wall and never reached the release point
    # (true-state BC: 0 of 29 placements in chains). From above the walls, any release point
    # over the opening succeeds.
    def _plan_place_in_drawer(self, task, state, yaw):
        x0, _ = scene.drawer_tray_x(state.drawer)
        xy = (x0 + 0.075, sum(scene.DRAWER_Y) / 2)
        h = scene.BLOCK_SIZES[state.held][2]
        return self._release_at(xy, scene.DRAWER_WALL + DROP_CLEARANCE + h / 2, yaw,
                                tol=DROP_TOL)

    def _plan_place_in_slider(self, task, state, yaw):
        y0, y1 = scene.compartments()[self._open_compartment(state)]
        xy = (sum(scene.CABINET_X) / 2, (y0 + y1) / 2)
        h = scene.BLOCK_SIZES[state.held][2]
        return self._release_at(xy, scene.CABINET_WALL + DROP_CLEARANCE + h / 2, yaw,
                                tol=DROP_TOL)

    def _plan_stack(self, task, state, yaw):
        # the nearest free block: a choice the observed scene determines (a random one made
        # the goal ambiguous, and a memoryless policy averaged two targets: 0 % stacks)
        held = self.env.block_pose(state.held)[0][:2]
        target = min(self._stack_targets(state),
                     key=lambda c: float(np.linalg.norm(state.pos(c)[:2] - held)))
        tx, ty, tz = state.pos(target)
        z = tz + scene.BLOCK_SIZES[target][2] / 2 + scene.BLOCK_SIZES[state.held][2] / 2 + 0.01
        return self._release_at((tx, ty), z, _grasp_yaw(state.yaw(target), bias=yaw))

    def _plan_unstack(self, task, state, yaw):
        top, _ = sorted(state.stacked_pairs())[0]
        grasp = self._block_yaw(state.yaw(top), yaw)
        x, y, z = state.pos(top)
        spot = self._free_spot(state, top)
        h = scene.BLOCK_SIZES[top][2]
        lift = self._grasp(top, state, grasp) + [
            Waypoint((x, y, TRANSIT_Z), grasp, CLOSE, tol=0.015)]
        return lift + [Waypoint((spot[0], spot[1], TRANSIT_Z), grasp, CLOSE, tol=0.012),
                       Waypoint((spot[0], spot[1], h / 2 + 0.012), grasp, CLOSE, tol=0.008,
                                arrive_gripper=OPEN),
                       Waypoint((spot[0], spot[1], h / 2 + 0.012), grasp, OPEN, tol=0.02,
                                settle=8),
                       Waypoint((spot[0], spot[1], TRANSIT_Z), grasp, OPEN, tol=0.02)]

    def _free_spot(self, state: SceneState, color: str) -> np.ndarray:
        best, best_gap = None, -1.0
        for _ in range(200):
            xy = np.array([self.rng.uniform(*scene.BLOCK_AREA["x"]),
                           self.rng.uniform(*scene.BLOCK_AREA["y"])])
            gap = min(np.linalg.norm(state.pos(c)[:2] - xy) for c in BLOCKS if c != color)
            if gap > 0.1:
                return xy
            if gap > best_gap:
                best, best_gap = xy, gap
        return best

    def _plan_drawer(self, task, state, yaw):
        front = scene.drawer_tray_x(state.drawer)[0]
        x = front - scene.HANDLE_GAP / 2 + 0.003
        y = sum(scene.DRAWER_Y) / 2
        dx = -(scene.DRAWER_TRAVEL + 0.02) if task == "open_drawer" else scene.DRAWER_TRAVEL + 0.02
        return [Waypoint((x, y, 0.12), 0.0, CLOSE, tol=0.01),
                Waypoint((x, y, 0.03), 0.0, CLOSE, tol=0.006),
                Waypoint((x + dx, y, 0.03), 0.0, CLOSE, tol=0.01, speed=0.012),
                Waypoint((x + dx, y, TRANSIT_Z), 0.0, CLOSE, tol=0.02)]

    def _plan_slider(self, task, state, yaw):
        sign = 1.0 if task.endswith("left") else -1.0
        x = scene.CABINET_X[0] + 0.05
        fin = scene.lid_y(state.slider)
        fy = (fin[0] + fin[1]) / 2
        z = scene.CABINET_WALL + 0.045
        start, end = fy - sign * 0.045, fy + sign * (scene.LID_TRAVEL + 0.02)
        return [Waypoint((x, start, z + 0.05), math.pi / 2, CLOSE, tol=0.01),
                Waypoint((x, start, z), math.pi / 2, CLOSE, tol=0.006),
                Waypoint((x, end, z), math.pi / 2, CLOSE, tol=0.01, speed=0.012),
                Waypoint((x, end, TRANSIT_Z), math.pi / 2, CLOSE, tol=0.02)]

    def _plan_led(self, task, state, yaw):
        x, y = scene.BUTTON_XY
        return [Waypoint((x, y, 0.12), 0.0, CLOSE, tol=0.01),
                Waypoint((x, y, 0.034), 0.0, CLOSE, tol=0.004, max_steps=40),
                Waypoint((x, y, 0.12), 0.0, CLOSE, tol=0.02)]

    def _plan_lightbulb(self, task, state, yaw):
        knob = scene.SWITCH_X[0] + state.switch
        on = task == "turn_on_lightbulb"
        start = knob - 0.035 if on else knob + 0.035
        end = scene.SWITCH_X[1] - 0.005 if on else scene.SWITCH_X[0] + 0.005
        y = scene.SWITCH_Y
        return [Waypoint((start, y, 0.12), 0.0, CLOSE, tol=0.01),
                Waypoint((start, y, 0.045), 0.0, CLOSE, tol=0.006),
                Waypoint((end + (0.02 if on else -0.02), y, 0.045), 0.0, CLOSE, tol=0.01,
                         speed=0.012, max_steps=40),
                Waypoint((end, y, TRANSIT_Z), 0.0, CLOSE, tol=0.02)]

    # --- execution ---------------------------------------------------------------------------
    def abandon(self) -> None:
        """Drop the rest of the current plan (``done`` becomes true)."""
        self.plan, self.task = [], None
        self._index, self._count, self._settled = 0, 0, 0

    @property
    def done(self) -> bool:
        """True when the plan is finished."""
        return self._index >= len(self.plan)

    def act(self) -> tuple[np.ndarray, np.ndarray, float] | None:
        """Next absolute target (position, euler, gripper), or None when the plan is done."""
        if self.done:
            return None
        wp = self.plan[self._index]
        tcp, euler = self.env.tcp_pose()
        goal = np.asarray(wp.pos, dtype=float)
        error = goal - tcp
        yaw_error = float(wrap_angle(wp.yaw - euler[2]))
        reached = np.linalg.norm(error) < wp.tol and abs(yaw_error) < 0.06
        gripper = wp.arrive_gripper if reached and wp.arrive_gripper is not None else wp.gripper
        self._count += 1
        if reached:
            self._settled += 1
        if (reached and self._settled > wp.settle) or self._count > wp.max_steps:
            self._index += 1
            self._count, self._settled = 0, 0
        step = error * min(1.0, wp.speed / max(np.linalg.norm(error), 1e-9))
        if self.noise:
            step = step + self.rng.normal(0, self.noise * POS_SCALE, 3)
        step = np.clip(step, -0.98 * POS_SCALE, 0.98 * POS_SCALE)
        yaw_step = float(np.clip(yaw_error, -0.9 * ROT_SCALE, 0.9 * ROT_SCALE))
        target_euler = np.array([math.pi, 0.0, euler[2] + yaw_step])
        droll = float(wrap_angle(math.pi - euler[0]))
        dpitch = float(-euler[1])
        target_euler[0] = euler[0] + np.clip(droll, -0.9 * ROT_SCALE, 0.9 * ROT_SCALE)
        target_euler[1] = euler[1] + np.clip(dpitch, -0.9 * ROT_SCALE, 0.9 * ROT_SCALE)
        return tcp + step, target_euler, gripper
