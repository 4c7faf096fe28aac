"""Unstructured play: the scripted expert performs random feasible tasks one after another,
with motion noise, pauses and free motion in between -- one continuous recording per episode."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from lumos_core.config import CollectConfig
from lumos_core.sim.env import WORKSPACE, PlayTableEnv, relative_action
from lumos_core.sim.expert import ScriptedExpert
from lumos_core.sim.tasks import SceneState, completed_tasks

FAMILIES = ("place", "stack", "drawer", "slider", "lightbulb", "led", "lift", "push", "rotate")


def _family(task: str) -> str:
    return next(f for f in FAMILIES if f in task)


def choose_task(feasible: list[str], rng: np.random.Generator,
                counts: dict[str, int] | None = None) -> str:
    """The next play task among the feasible ones.

    With ``counts`` (completions so far), each feasible task has weight 1 / (1 + count)^2: a
    task done less often is preferred, so rare tasks (pushes, rotations, placing) are visited
    about as often as the fixtures. Without, a family uniformly among the feasible ones, then
    a task within it (the first collector's rule: ~55 completions per fixture task against
    ~10 per push or rotation).
    """
    if counts is not None:
        weights = np.array([1.0 / (1 + counts.get(t, 0)) ** 2 for t in feasible])
        return feasible[int(rng.choice(len(feasible), p=weights / weights.sum()))]
    groups = defaultdict(list)
    for task in feasible:
        groups[_family(task)].append(task)
    family = sorted(groups)[rng.integers(len(groups))]
    return groups[family][rng.integers(len(groups[family]))]


class PlayRecorder:
    """Runs play in an env and records frames in the CALVIN layout."""

    def __init__(self, env: PlayTableEnv, cfg: CollectConfig, rng: np.random.Generator) -> None:
        self.env = env
        self.cfg = cfg
        self.rng = rng
        self.expert = ScriptedExpert(env, rng, noise=cfg.noise, multimodal=cfg.multimodal)

    def _new_buffers(self) -> None:
        keys = ["actions", "rel_actions", "robot_obs", "scene_obs"]
        if self.env.config.render:
            keys += ["rgb_static", "rgb_gripper"]
        self.buffers = {k: [] for k in keys}

    def _record(self, target_pos, target_euler, gripper) -> None:
        obs = self.obs
        robot = obs["robot_obs"]
        gripper = 1.0 if gripper > 0 else -1.0
        self.buffers["actions"].append(np.concatenate([target_pos, target_euler, [gripper]]))
        self.buffers["rel_actions"].append(
            relative_action(target_pos, target_euler, gripper, robot[:3], robot[3:6]))
        for key in obs:
            self.buffers[key].append(obs[key])
        self.obs = self.env.step_absolute(target_pos, target_euler, gripper)[0]

    def _hold(self, steps: int) -> None:
        pos, euler = self.env.tcp_pose()
        for _ in range(steps):
            if self._full():
                return
            self._record(pos, euler, self.env.gripper_action)

    def _free_motion(self, steps: int, goal: np.ndarray | None = None,
                     yaw_goal: float | None = None) -> None:
        if goal is None:
            goal = np.array([self.rng.uniform(0.25, 0.55), self.rng.uniform(-0.25, 0.3),
                             self.rng.uniform(0.12, 0.28)])
        if yaw_goal is None:
            yaw_goal = self.rng.uniform(-1.2, 1.2)
        for _ in range(steps):
            if self._full():
                return
            pos, euler = self.env.tcp_pose()
            step = np.clip(goal - pos, -0.018, 0.018)
            yaw = euler[2] + np.clip(yaw_goal - euler[2], -0.04, 0.04)
            target = np.clip(pos + step, [WORKSPACE[k][0] for k in "xyz"],
                             [WORKSPACE[k][1] for k in "xyz"])
            self._record(target, np.array([math.pi, 0.0, yaw]), self.env.gripper_action)

    def _home(self) -> None:
        """Back to (near) the neutral pose, where every evaluation chain starts, then a short
        hold: without this, play rarely visits the states a chain's first subtask starts from
        (0.5 % of frames above TCP z = 0.30 before)."""
        home = self.home + self.rng.normal(0.0, [0.03, 0.04, 0.015])
        yaw = float(self.rng.normal(0.0, 0.1))
        self._free_motion(45, np.clip(home, [WORKSPACE[k][0] for k in "xyz"],
                                      [WORKSPACE[k][1] for k in "xyz"]), yaw)
        self._hold(int(self.rng.integers(1, 6)))

    def _task(self) -> dict | None:
        feasible = [t for t in self.expert.feasible_tasks()
                    if not self.cfg.tasks or t in self.cfg.tasks]
        start = SceneState(self.obs["scene_obs"], self.env.held_block())
        if feasible:
            task = choose_task(feasible, self.rng,
                               self.counts if self.cfg.balance_tasks else None)
            self.expert.start(task)
        elif start.held is not None:
            task = None
            self.expert.start_putdown()
        else:
            return None
        first = len(self.buffers["actions"])
        done_at = None
        # decided up front so that the random stream does not depend on when the task ends
        # (and not drawn at 0: recordings of the earlier behaviour stay reproducible)
        interrupt = self.cfg.interrupt_prob > 0 and self.rng.random() < self.cfg.interrupt_prob
        while not self.expert.done and not self._full():
            self._record(*self.expert.act())
            if task is not None and done_at is None:
                now = SceneState(self.obs["scene_obs"], self.env.held_block())
                if task in completed_tasks(start, now):
                    done_at = len(self.buffers["actions"]) - 1
                    if interrupt:
                        # the next task starts from here, as an evaluation chain's next
                        # subtask does: low at a fixture, mid-push, a block in the hand
                        self.expert.abandon()
                        break
        if task is None or done_at is None:
            return None
        self.counts[task] += 1
        return {"task": task, "start": first, "end": done_at}

    def _full(self) -> bool:
        return len(self.buffers["actions"]) >= self.length

    def episode(self, length: int, seed: int) -> tuple[dict[str, np.ndarray], list[dict]]:
        """Record ``length`` frames of play from a random initial scene.

        Returns the stacked frames and the completed tasks, each ``{"task", "start", "end"}``
        with frame indices local to the episode (``end``: the frame whose action completed it).
        """
        self.length = length
        self._new_buffers()
        self.obs, _ = self.env.reset(seed=seed)
        self.home = self.env.tcp_pose()[0].copy()      # the neutral pose's TCP position
        self.counts: dict[str, int] = defaultdict(int)
        events = []
        while not self._full():
            r = self.rng.random()
            if r < self.cfg.home_prob:
                self._home()
            elif (r := r - self.cfg.home_prob) < self.cfg.pause_prob:
                self._hold(int(self.rng.integers(5, 20)))
            elif r < self.cfg.pause_prob + self.cfg.free_motion_prob:
                self._free_motion(int(self.rng.integers(10, 30)))
            else:
                event = self._task()
                if event is not None:
                    events.append(event)
                elif self.expert.done and not self._full():
                    self._free_motion(int(self.rng.integers(10, 30)))
        frames = {k: np.asarray(v)[:length] for k, v in self.buffers.items()}
        for key in ("actions", "rel_actions", "robot_obs", "scene_obs"):
            frames[key] = frames[key].astype(np.float32)
        return frames, events
