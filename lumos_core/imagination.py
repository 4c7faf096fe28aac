"""See before it moves: the policy's imagined future in the world model, and what it predicts.

From the filtered latent state of a :class:`~lumos_core.policy.LumosPolicy` and a goal, the
policy is rolled forward ``horizon`` steps in the world model's prior, ``samples`` times
(each sample draws its own plans and stochastic states), with nothing sent to the robot:

    policy = LumosPolicy(checkpoint)
    policy.reset(); policy.filter(obs)
    future = imagine(policy, "open the drawer", horizon=60, samples=8)
    future.success_probability("open_drawer", start_scene=obs["scene_obs"])

Returned: imagined latents, actions, the critic's values (LUMOS) and the decoded observations
(``robot_obs``/``scene_obs`` in state mode, camera frames in vision mode). In state mode the
simulator's task oracle applied to the decoded final state says which tasks the policy
*expects* to complete (:func:`decoded_outcome`); with several samples, a predicted success
probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from lumos_core.data.calvin import BLOCK_YAW_INDICES, SCENE_DIM
from lumos_core.world_model import CAMERAS, State

#: a block counts as held in a decoded state when the gripper is partly closed (not empty:
#: an empty closed gripper reads ~0 m) and the block's centre is this close to the TCP
HELD_WIDTH = (0.01, 0.075)
HELD_DISTANCE = 0.035


@dataclass
class Imagination:
    """``samples`` imagined futures of ``horizon`` steps from one latent state."""

    latents: np.ndarray                 # (S, H + 1, F): s_0 (the filtered state) .. s_H
    actions: np.ndarray                 # (S, H, 7), gripper binarised
    values: np.ndarray | None           # (S, H + 1) critic values (LUMOS), else None
    decoded: dict[str, np.ndarray] = field(default_factory=dict)
    # state mode: robot_obs (S, H + 1, 15) and scene_obs (S, H + 1, 24) in the models'
    # canonical form; vision mode: rgb_static / rgb_gripper uint8 (S, H + 1, 64, 64, 3)

    @property
    def samples(self) -> int:
        return self.actions.shape[0]

    @property
    def horizon(self) -> int:
        return self.actions.shape[1]

    def outcomes(self, start_scene, start_held: str | None = None) -> list[set[str]]:
        """State mode: the tasks the oracle sees completed at the end of each sample, against
        the true ``start_scene`` (raw scene_obs)."""
        if "scene_obs" not in self.decoded:
            raise ValueError("predicted outcomes need a state-mode world model (decoded "
                             "scene_obs); vision models decode camera frames")
        return [decoded_outcome(start_scene, self.decoded["scene_obs"][i, -1],
                                self.decoded["robot_obs"][i, -1], start_held)
                for i in range(self.samples)]

    def success_probability(self, task: str, start_scene, start_held: str | None = None
                            ) -> float:
        """Share of the samples in which ``task`` is completed at the end."""
        outcomes = self.outcomes(start_scene, start_held)
        return sum(task in done for done in outcomes) / len(outcomes)


def _repeat(state: State, n: int) -> State:
    return State(state.h.repeat(n, 1), state.z.repeat(n, 1))


@torch.no_grad()
def imagine(policy, goal, horizon: int = 60, samples: int = 8, seed: int = 0,
            decode: bool | str = True) -> Imagination:
    """Roll ``policy`` forward from its current filter state (after ``policy.filter(obs)``)
    towards ``goal`` (text or 384-d embedding). The policy's own state (filter, plan,
    counters) is left as it was; deterministic for a given ``seed``.

    ``decode``: True decodes every imagined step, ``'final'`` only the last one of each
    sample (``decoded`` arrays then have one time step: a live preview of camera frames
    needs the end frame, and decoding 8 x 61 frames costs ~8x the imagination itself on a
    CPU), False nothing."""
    if horizon < 1 or samples < 1:
        raise ValueError(f"horizon and samples must be >= 1, got {horizon} and {samples}")
    if decode not in (True, False, "final"):
        raise ValueError(f"decode must be True, False or 'final', got {decode!r}")
    if policy.filter_steps == 0:
        raise ValueError("imagination starts from a filtered state: call policy.filter(obs) "
                         "first")
    b, wm = policy.behaviour, policy.world_model
    devices = [policy.device] if policy.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        state = _repeat(policy.state, samples)
        goal_vec = b.lang_goal(policy.goal_embedding(goal)).repeat(samples, 1)
        feats, actions, plan, cond = [state.feat], [], None, None
        for k in range(horizon):
            feat = state.feat
            if b.uses_plan and k % policy.cfg.agent.replan_every == 0:
                plan = b.sample_plan(b.proposal(torch.cat([b.code(feat), goal_vec], -1)),
                                     straight_through=False)
                cond = None
            if cond is None:                   # the goal's (and plan's) part: once per plan
                cond = b.condition(b.actor, goal_vec, plan if b.uses_plan else None)
            mean, std = b.action_dist(feat, None, None, cond)
            action = torch.tanh(mean + std * torch.randn_like(mean)
                                if policy.action_mode == "sample" else mean)
            action[..., 6] = torch.where(action[..., 6] > 0, 1.0, -1.0)
            state = wm.img_step(state, action)
            feats.append(state.feat)
            actions.append(action)
        traj = torch.stack(feats, 1)
        values = None
        if b.imagines:
            values = b.value(b.critic, traj, goal_vec, plan).cpu().numpy()
        out = Imagination(traj.cpu().numpy(), torch.stack(actions, 1).cpu().numpy(), values)
        if decode:
            out.decoded = decoded_observations(wm, traj if decode is True else traj[:, -1:])
    return out


def decoded_observations(world_model, feat: torch.Tensor) -> dict[str, np.ndarray]:
    """The world model's reconstructions of latents (..., F) in observation units."""
    if world_model.cfg.obs_mode == "state":
        x = world_model.decode_state(feat).cpu().numpy()
        return {"robot_obs": x[..., :15], "scene_obs": x[..., 15:]}
    recon = world_model.decode(feat)
    return {cam: ((recon[cam].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            .movedim(-3, -1).cpu().numpy() for cam in CAMERAS if cam in recon}


def raw_scene(decoded_scene, start_scene) -> np.ndarray:
    """A decoded (canonical) scene_obs back in the raw form of ``start_scene``: each block's
    yaw modulo pi becomes the start yaw plus the turn, taken as the smallest turn (a block
    is a box: a turn of more than pi/2 reads as its complement)."""
    scene = np.array(decoded_scene, np.float64, copy=True)
    start = np.asarray(start_scene, np.float64)
    if scene.shape != (SCENE_DIM,) or start.shape != (SCENE_DIM,):
        raise ValueError(f"scene_obs must have {SCENE_DIM} values")
    for i in BLOCK_YAW_INDICES:
        turn = (scene[i] - start[i] + math.pi / 2) % math.pi - math.pi / 2
        scene[i] = start[i] + turn
    return scene


def held_block(robot_obs, scene_obs) -> str | None:
    """The block a decoded state holds: the gripper commanded closed, partly closed on
    something, and a block centred at the TCP."""
    from lumos_core.sim.env import BLOCKS

    robot = np.asarray(robot_obs, np.float64)
    width = robot[6]
    if robot[14] > 0 or not HELD_WIDTH[0] < width < HELD_WIDTH[1]:
        return None            # commanded open (index 14: the last gripper action), or empty
    tcp = robot[:3]
    best, best_d = None, HELD_DISTANCE
    for k, color in enumerate(BLOCKS):
        d = float(np.linalg.norm(np.asarray(scene_obs)[6 + 6 * k:9 + 6 * k] - tcp))
        if d < best_d:
            best, best_d = color, d
    return best


def decoded_outcome(start_scene, end_scene, end_robot, start_held: str | None = None
                    ) -> set[str]:
    """The oracle's completed tasks from the true start to a decoded (canonical) end state."""
    from lumos_core.sim.tasks import SceneState, completed_tasks

    start = np.asarray(start_scene, np.float64)
    end = raw_scene(end_scene, start)
    return completed_tasks(SceneState(start, start_held),
                           SceneState(end, held_block(end_robot, end)))


# --- imagined vs real, in the simulator ------------------------------------------------------
def render_decoded(env, decoded: dict[str, np.ndarray], start_scene, sample: int = 0
                   ) -> list[np.ndarray]:
    """Static-camera frames of one sample's decoded states, set in the simulator (state mode;
    the robot posed from the decoded joints)."""
    from lumos_core.sim.env import ROBOT_OBS_DIM, wrap_angle

    frames = []
    for t in range(decoded["scene_obs"].shape[1]):
        robot = np.array(decoded["robot_obs"][sample, t], np.float64)
        robot[3] = wrap_angle(robot[3])             # canonical roll (mod 2 pi) back to +-pi
        assert robot.shape == (ROBOT_OBS_DIM,)
        scene = raw_scene(decoded["scene_obs"][sample, t], start_scene)
        env.reset(options={"scene_obs": scene.astype(np.float32),
                           "robot_obs": robot.astype(np.float32)})
        frames.append(env.render_static())
    return frames


def dry_run(policy, env, instruction: str, task: str | None, horizon: int = 60,
            samples: int = 8, seed: int = 0, real_steps: int = 360,
            video: bool = False) -> dict:
    """Imagine from the env's current state, then really act and compare.

    Returns the predicted tasks per sample, the predicted success probability of ``task``,
    the imagination's wall time, whether (and when) the real rollout completed ``task``, and
    with ``video`` the frames of both (imagined sample 0 | real).
    """
    import time

    from lumos_core.sim.tasks import SceneState, completed_tasks

    obs = env.observation()
    start_scene = np.asarray(obs["scene_obs"], np.float64)
    start_held = env.held_block()
    policy.reset()
    policy.filter(obs)
    started = time.perf_counter()
    future = imagine(policy, instruction, horizon, samples, seed)
    imagine_ms = 1000 * (time.perf_counter() - started)
    predicted = [sorted(t) for t in future.outcomes(start_scene, start_held)] \
        if "scene_obs" in future.decoded else None
    probability = (None if task is None or predicted is None
                   else sum(task in p for p in predicted) / len(predicted))
    # the real rollout, from the same state (the filter has seen obs already)
    start = SceneState(env.scene_obs(), start_held)
    real_frames = [obs["rgb_static"]] if video else []
    first = policy.act(policy.state.feat, instruction)
    done_at, done_tasks = None, set()
    obs, *_ = env.step(first)
    for step in range(1, real_steps + 1):
        if video:
            real_frames.append(obs["rgb_static"])
        done_tasks = completed_tasks(start, SceneState(obs["scene_obs"], env.held_block()))
        if (task in done_tasks) if task else bool(done_tasks):
            done_at = step
            break
        obs, *_ = env.step(policy.step(obs, instruction))
    result = {"instruction": instruction, "task": task, "samples": samples,
              "horizon": horizon, "imagine_ms": imagine_ms, "predicted_tasks": predicted,
              "predicted_success": probability, "real_success": done_at is not None,
              "real_steps": done_at, "real_tasks": sorted(done_tasks)}
    if video and predicted is not None:
        state_after = (env.scene_obs(), env.robot_obs())
        imagined = render_decoded(env, future.decoded, start_scene)
        env.reset(options={"scene_obs": state_after[0], "robot_obs": state_after[1]})
        result["frames"] = side_by_side(imagined, real_frames)
    return result


def side_by_side(imagined: list[np.ndarray], real: list[np.ndarray]) -> list[np.ndarray]:
    """Frames ``imagined | real``, the shorter one holding its last frame."""
    n = max(len(imagined), len(real))
    out = []
    for t in range(n):
        a = imagined[min(t, len(imagined) - 1)]
        b = real[min(t, len(real) - 1)]
        gap = np.full((a.shape[0], 2, 3), 255, np.uint8)
        out.append(np.concatenate([a, gap, b], 1))
    return out


def calibration(policy_path, chains: list[dict], instructions: dict[str, list[str]],
                horizon: int = 60, samples: int = 8, seed: int = 0, real_steps: int = 360,
                progress: bool = True) -> dict:
    """Predicted success probability vs real success on the first subtask of each chain:
    the rows, precision/recall of 'predicted >= 0.5', the mean absolute calibration error
    over probability bins, and the imagination latency."""
    from tqdm import tqdm

    from lumos_core.config import SimConfig
    from lumos_core.policy import LumosPolicy
    from lumos_core.sim.env import PlayTableEnv

    policy = LumosPolicy(policy_path)
    if policy.cfg.world_model.obs_mode != "state":
        raise ValueError("calibration needs a state-mode policy (the oracle reads decoded "
                         "states); vision models decode frames")
    rng = np.random.default_rng(seed)
    rows = []
    with PlayTableEnv(SimConfig(render=False)) as env:
        for i, chain in enumerate(tqdm(chains, desc="calibration", disable=not progress)):
            env.reset(options={"scene_obs": np.asarray(chain["scene_obs"], np.float32),
                               "robot_obs": np.asarray(chain["robot_obs"], np.float32)})
            task = chain["tasks"][0]
            text = instructions[task][rng.integers(len(instructions[task]))]
            r = dry_run(policy, env, text, task, horizon, samples, seed + i, real_steps)
            rows.append(r)
    return {"rows": rows, **calibration_summary(rows)}


def calibration_summary(rows: list[dict], bins: int = 5) -> dict:
    """Precision/recall of 'predicted >= 0.5', reliability bins, latency percentiles."""
    p = np.array([r["predicted_success"] for r in rows], np.float64)
    y = np.array([r["real_success"] for r in rows], bool)
    said = p >= 0.5
    tp = int(np.sum(said & y))
    precision = tp / max(int(said.sum()), 1)
    recall = tp / max(int(y.sum()), 1)
    edges = np.linspace(0, 1, bins + 1)
    table = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if sel.any():
            table.append({"bin": [float(lo), float(hi)], "n": int(sel.sum()),
                          "predicted": float(p[sel].mean()), "real": float(y[sel].mean())})
    ece = sum(b["n"] * abs(b["predicted"] - b["real"]) for b in table) / max(len(rows), 1)
    ms = np.array([r["imagine_ms"] for r in rows])
    return {"n": len(rows), "real_success_rate": float(y.mean()) if len(y) else 0.0,
            "mean_predicted": float(p.mean()) if len(p) else 0.0,
            "precision": precision, "recall": recall, "calibration_error": float(ece),
            "bins": table, "imagine_ms_median": float(np.median(ms)) if len(ms) else 0.0,
            "imagine_ms_p95": float(np.percentile(ms, 95)) if len(ms) else 0.0}


def plot_reliability(summary: dict, path) -> None:
    """The reliability diagram: real success rate per predicted-probability bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    b = summary["bins"]
    ax.plot([x["predicted"] for x in b], [x["real"] for x in b], "o-",
            label=f"policy (n = {summary['n']})")
    for x in b:
        ax.annotate(str(x["n"]), (x["predicted"], x["real"]), fontsize=7,
                    textcoords="offset points", xytext=(4, -8))
    ax.set_xlabel("predicted success probability (imagination)")
    ax.set_ylabel("real success rate (simulator)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
