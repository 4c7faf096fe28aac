"""The task oracle detects every task from hand-made state changes, and nothing else."""

import numpy as np
import pytest

from lumos_core.sim import scene
from lumos_core.sim.env import BLOCKS
from lumos_core.sim.tasks import TASKS, SceneState, completed_tasks


def base() -> np.ndarray:
    s = np.zeros(24, np.float32)
    for i, (color, xy) in enumerate(zip(BLOCKS, [(0.35, -0.1), (0.40, 0.0), (0.45, 0.08)])):
        s[6 + 6 * i: 9 + 6 * i] = [xy[0], xy[1], scene.BLOCK_SIZES[color][2] / 2]
    return s


def idx(color):
    return 6 + 6 * BLOCKS.index(color)


def changed(**kw):
    start, end = base(), base()
    for key, (a, b) in kw.items():
        i = {"slider": 0, "drawer": 1, "switch": 3, "bulb": 4, "led": 5}[key]
        start[i], end[i] = a, b
    return start, end


def case(task):
    held_end = None
    if task in ("open_drawer", "close_drawer"):
        s, e = changed(drawer=(0.0, 0.16) if task == "open_drawer" else (0.16, 0.0))
    elif task.startswith("move_slider"):
        s, e = changed(slider=(0.0, 0.18) if task.endswith("left") else (0.18, 0.0))
    elif task.endswith("led"):
        s, e = changed(led=(0, 1) if "on" in task else (1, 0))
    elif task.endswith("lightbulb"):
        s, e = changed(bulb=(0, 1) if "on" in task else (1, 0))
    else:
        s, e = base(), base()
        color = task.split("_")[1] if task.split("_")[1] in BLOCKS else "red"
        i = idx(color)
        if task.startswith("lift"):
            e[i + 2] += 0.1
            held_end = color
        elif task.startswith("push"):
            e[i + 1] += 0.1 if task.endswith("left") else -0.1
        elif task.startswith("rotate"):
            e[i + 5] += 0.8 if task.endswith("left") else -0.8
        elif task == "place_in_drawer":
            s[1] = e[1] = 0.16
            x0, x1 = scene.drawer_tray_x(0.16)
            e[i:i + 3] = [(x0 + x1) / 2, sum(scene.DRAWER_Y) / 2, 0.03]
        elif task == "place_in_slider":
            e[i:i + 3] = [sum(scene.CABINET_X) / 2, 0.4, 0.016]
        elif task == "stack_block":
            j = idx("blue")
            e[i:i + 2] = e[j:j + 2]
            e[i + 2] = scene.BLOCK_SIZES["blue"][2] + scene.BLOCK_SIZES["red"][2] / 2
        elif task == "unstack_block":
            j = idx("blue")
            s[i:i + 2] = s[j:j + 2]
            s[i + 2] = scene.BLOCK_SIZES["blue"][2] + scene.BLOCK_SIZES["red"][2] / 2
    return SceneState(s), SceneState(e, held_end)


@pytest.mark.parametrize("task", TASKS)
def test_each_task_is_detected_alone(task):
    start, end = case(task)
    assert completed_tasks(start, end) == {task}


def test_no_change_no_task():
    assert completed_tasks(SceneState(base()), SceneState(base())) == set()


def test_small_changes_do_not_count():
    s, e = changed(drawer=(0.0, 0.05))
    assert completed_tasks(SceneState(s), SceneState(e)) == set()
    s, e = base(), base()
    e[idx("red") + 1] += 0.03
    e[idx("red") + 5] += 0.2
    assert completed_tasks(SceneState(s), SceneState(e)) == set()


def test_lift_needs_the_block_in_the_gripper():
    s, e = base(), base()
    e[idx("pink") + 2] += 0.1
    assert completed_tasks(SceneState(s), SceneState(e)) == set()
    assert completed_tasks(SceneState(s), SceneState(e, "pink")) == {"lift_pink_block_table"}


def test_at_least_twenty_tasks_in_every_category():
    assert len(TASKS) >= 20 and len(set(TASKS)) == len(TASKS)
    for word in ("drawer", "slider", "led", "lightbulb", "lift", "push", "rotate", "place",
                 "stack_block", "unstack_block"):
        assert any(word in t for t in TASKS), word
