"""Task oracle of the play table: which tasks were completed between a start and an end state.

Like CALVIN's ``Tasks.get_task_info``: a task counts when the change from the start state to
the end state matches it (e.g. ``open_drawer``: the drawer opened by at least 10 cm). Task names
follow CALVIN. A state is the 24-d ``scene_obs`` plus the block the gripper holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lumos_core.sim import scene
from lumos_core.sim.env import BLOCKS, wrap_angle

DRAWER_MOVE = 0.10
SLIDER_MOVE = 0.12
PUSH_MOVE = 0.08
ROTATE_ANGLE = 0.5
LIFT_HEIGHT = 0.05
ROTATE_MAX_SHIFT = 0.06


@dataclass(frozen=True)
class SceneState:
    """What the oracle compares: ``scene_obs`` and the held block."""

    scene_obs: np.ndarray
    held: str | None = None

    @property
    def slider(self) -> float:
        """Lid position: 0 covers the right compartment, LID_TRAVEL the left."""
        return float(self.scene_obs[0])

    @property
    def drawer(self) -> float:
        """Drawer opening in metres."""
        return float(self.scene_obs[1])

    @property
    def switch(self) -> float:
        """Switch knob position."""
        return float(self.scene_obs[3])

    @property
    def lightbulb(self) -> int:
        """1 when the bulb is on."""
        return int(round(self.scene_obs[4]))

    @property
    def led(self) -> int:
        """1 when the LED is on."""
        return int(round(self.scene_obs[5]))

    def pos(self, color: str) -> np.ndarray:
        """Block position."""
        i = 6 + 6 * BLOCKS.index(color)
        return self.scene_obs[i:i + 3]

    def yaw(self, color: str) -> float:
        """Block yaw."""
        return float(self.scene_obs[6 + 6 * BLOCKS.index(color) + 5])

    def tilted(self, color: str) -> bool:
        """True when the block does not lie flat."""
        i = 6 + 6 * BLOCKS.index(color)
        roll, pitch = wrap_angle(self.scene_obs[i + 3:i + 5])
        flat = [min(abs(a), abs(abs(a) - np.pi)) for a in (roll, pitch)]
        return max(flat) > 0.35

    def on_table(self, color: str) -> bool:
        """Resting on the table surface, outside drawer and cabinet."""
        return (self.pos(color)[2] < scene.BLOCK_SIZES[color][2] / 2 + 0.012
                and not self.in_drawer(color) and not self.in_cabinet(color)
                and self.held != color)

    def in_drawer(self, color: str) -> bool:
        """Inside the drawer tray."""
        x, y, z = self.pos(color)
        x0, x1 = scene.drawer_tray_x(self.drawer)
        y0, y1 = scene.DRAWER_Y
        return x0 < x < x1 and y0 < y < y1 and z < scene.DRAWER_WALL + 0.02

    def in_cabinet(self, color: str) -> bool:
        """Inside a cabinet compartment."""
        x, y, z = self.pos(color)
        return (scene.CABINET_X[0] < x < scene.CABINET_X[1]
                and scene.CABINET_Y[0] < y < scene.CABINET_Y[1] and z < scene.CABINET_WALL + 0.02)

    def on_top_of(self, top: str, bottom: str) -> bool:
        """``top`` rests on ``bottom``."""
        a, b = self.pos(top), self.pos(bottom)
        gap = (scene.BLOCK_SIZES[top][2] + scene.BLOCK_SIZES[bottom][2]) / 2
        return bool(np.linalg.norm(a[:2] - b[:2]) < 0.035 and abs(a[2] - b[2] - gap) < 0.015)

    def stacked_pairs(self) -> set[tuple[str, str]]:
        """(top, bottom) pairs of blocks resting on each other."""
        return {(a, b) for a in BLOCKS for b in BLOCKS if a != b and self.on_top_of(a, b)}

    def supports(self, color: str) -> bool:
        """Another block rests on this one."""
        return any(bottom == color for _, bottom in self.stacked_pairs())


def _block_tasks(start: SceneState, end: SceneState, color: str) -> set[str]:
    done = set()
    d = end.pos(color) - start.pos(color)
    if start.on_table(color) and end.held == color and d[2] > LIFT_HEIGHT:
        done.add(f"lift_{color}_block_table")
    flat_move = (start.on_table(color) and end.on_table(color) and end.held != color
                 and not end.tilted(color))
    if flat_move and d[1] > PUSH_MOVE:
        done.add(f"push_{color}_block_left")
    if flat_move and d[1] < -PUSH_MOVE:
        done.add(f"push_{color}_block_right")
    turned = float(wrap_angle(end.yaw(color) - start.yaw(color)))
    if (start.on_table(color) and end.pos(color)[2] < scene.BLOCK_SIZES[color][2] / 2 + 0.012
            and not end.tilted(color) and np.linalg.norm(d[:2]) < ROTATE_MAX_SHIFT):
        if turned > ROTATE_ANGLE:
            done.add(f"rotate_{color}_block_left")
        elif turned < -ROTATE_ANGLE:
            done.add(f"rotate_{color}_block_right")
    if not start.in_drawer(color) and end.in_drawer(color) and end.held != color:
        done.add("place_in_drawer")
    if not start.in_cabinet(color) and end.in_cabinet(color) and end.held != color:
        done.add("place_in_slider")
    return done


def completed_tasks(start: SceneState, end: SceneState) -> set[str]:
    """Every task whose effect shows between ``start`` and ``end``."""
    done = set()
    if end.drawer - start.drawer > DRAWER_MOVE:
        done.add("open_drawer")
    if start.drawer - end.drawer > DRAWER_MOVE:
        done.add("close_drawer")
    if end.slider - start.slider > SLIDER_MOVE:
        done.add("move_slider_left")
    if start.slider - end.slider > SLIDER_MOVE:
        done.add("move_slider_right")
    if (start.led, end.led) == (0, 1):
        done.add("turn_on_led")
    if (start.led, end.led) == (1, 0):
        done.add("turn_off_led")
    if (start.lightbulb, end.lightbulb) == (0, 1):
        done.add("turn_on_lightbulb")
    if (start.lightbulb, end.lightbulb) == (1, 0):
        done.add("turn_off_lightbulb")
    for color in BLOCKS:
        done |= _block_tasks(start, end, color)
    before, after = start.stacked_pairs(), end.stacked_pairs()
    if any(top != end.held for top, _ in after - before):
        done.add("stack_block")
    if before - after:
        done.add("unstack_block")
    return done


#: the tasks on fixtures (fixed places); every other task acts on a block
FIXTURE_TASKS = (
    "open_drawer", "close_drawer", "move_slider_left", "move_slider_right",
    "turn_on_led", "turn_off_led", "turn_on_lightbulb", "turn_off_lightbulb",
)
TASKS = (
    *FIXTURE_TASKS,
    *[f"lift_{c}_block_table" for c in BLOCKS],
    *[f"push_{c}_block_{d}" for c in BLOCKS for d in ("left", "right")],
    *[f"rotate_{c}_block_{d}" for c in BLOCKS for d in ("left", "right")],
    "place_in_drawer", "place_in_slider", "stack_block", "unstack_block",
)
