"""The learning ladder (`lumos ladder`): rungs that locate a learning failure instead of
guessing it. Each rung prints its figure; each must pass before the next one is trusted.

(a) ``replay``: the recorded ``rel_actions`` replayed from each completion's recorded start
    state re-complete the task (the action path: scaling, clipping, frames, the oracle);
(b) ``state-bc --goal task``: behaviour cloning on the *true* state (robot_obs + scene_obs)
    with a one-hot task goal, evaluated per task on the evaluation chains (can the data teach
    each task at all?);
(c) ``state-bc --goal language``: the same with the MiniLM embedding of the instruction, on
    the evaluation paraphrases (language grounding with a perfect state);
(d) GCBC and MCIL on world-model features: ``lumos train-agent --set agent.method=gcbc``;
(e) LUMOS and its ablations: ``lumos benchmark agents``.

Rungs (b) and (c) train :class:`StateBCNet` on the language-annotated windows only -- exactly
the supervision the agents get -- and save a ``state_bc`` checkpoint that ``lumos evaluate``
accepts like any policy.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lumos_core.data.calvin import canonical_robot_obs, canonical_scene_obs, read_episode_meta

STATE_BC_FILE = "state_bc.pt"
#: width of the language-goal code when a task classifier shapes it (``task_loss``)
GOAL_CODE = 32
#: what the action network of a language rung sees of the task classifier (with --task-loss):
#: nothing ("" -- the goal code), its probabilities, or the one-hot of its most likely task
POSTERIORS = ("", "soft", "hard")


class LadderError(ValueError):
    """A rung cannot run on the given input."""


# --- rung (a): the action path -------------------------------------------------------------
#: tasks whose recorded completions start with a block in the hand: a reset cannot restore
#: the grasp, so the rungs that start from recorded states count them apart or leave them out
HELD_START_TASKS = ("place_in_drawer", "place_in_slider", "stack_block")


def replay(dataset: str | Path, split: str = "training", events: int = 300,
           seed: int = 0, progress: bool = True) -> dict:
    """Replay the recorded actions of ``events`` random completions from their start frames.

    The scene and the robot are reset to the recorded ``scene_obs`` / ``robot_obs`` of the
    frame where the expert began the task, then every recorded ``rel_action`` up to the frame
    that completed it is stepped; a replay succeeds when the oracle sees the task done by then
    (plus 15 frames of slack: contacts complete a few frames later when replayed). Completions
    that start with a block in the hand cannot be restored by a reset (the grasp is a physical
    contact) and are counted apart.
    """
    from tqdm import tqdm

    from lumos_core.config import SimConfig
    from lumos_core.data.dataset import PlayData
    from lumos_core.sim.env import PlayTableEnv
    from lumos_core.sim.tasks import SceneState, completed_tasks

    split_dir = Path(dataset) / split
    data = PlayData(split_dir, images=False, progress=progress)
    row_of = {int(f): i for i, f in enumerate(data.frame_ids)}
    all_events = [e for m in read_episode_meta(split_dir) for e in m["events"]]
    if not all_events:
        raise LadderError(f"{split_dir}: no recorded task completions (episode metadata "
                          "written by `lumos collect` is needed)")
    rng = np.random.default_rng(seed)
    chosen = [all_events[i] for i in rng.permutation(len(all_events))[:events]]
    robot, scene = data.arrays["robot_obs"], data.arrays["scene_obs"]
    actions = data.arrays["rel_actions"]
    per_task = defaultdict(lambda: [0, 0])
    held_start = [0, 0]
    env = PlayTableEnv(SimConfig(render=False))
    try:
        for event in tqdm(chosen, desc="replay", disable=not progress):
            s, e = row_of[int(event["start"])], row_of[int(event["end"])]
            env.reset(options={"scene_obs": np.asarray(scene[s]),
                               "robot_obs": np.asarray(robot[s])})
            start = SceneState(env.scene_obs(), env.held_block())
            ok = False
            last = min(e + 15, len(actions) - 1)
            for row in range(s, last + 1):
                obs, *_ = env.step(np.asarray(actions[row], np.float64))
                if event["task"] in completed_tasks(start, SceneState(obs["scene_obs"],
                                                                      env.held_block())):
                    ok = True
                    break
            if event["task"] in HELD_START_TASKS:
                held_start[0] += ok
                held_start[1] += 1
            else:
                per_task[event["task"]][0] += ok
                per_task[event["task"]][1] += 1
    finally:
        env.close()
    done = sum(v[0] for v in per_task.values())
    total = sum(v[1] for v in per_task.values())
    return {"replayed": total, "re_completed": done, "rate": done / max(total, 1),
            "held_start": {"replayed": held_start[1], "re_completed": held_start[0]},
            "per_task": {t: {"success": s, "total": n} for t, (s, n) in sorted(per_task.items())}}


# --- rungs (b) and (c): behaviour cloning on the true state --------------------------------
def _state(robot_obs, scene_obs, canonical_scene: bool = True) -> np.ndarray:
    """concat(canonical robot_obs, scene_obs -- canonical unless told otherwise), float32."""
    scene = np.asarray(scene_obs, np.float32)
    return np.concatenate([canonical_robot_obs(np.asarray(robot_obs, np.float32)),
                           canonical_scene_obs(scene) if canonical_scene else scene], -1)


def state_input(robot_obs, scene_obs, mean: np.ndarray, std: np.ndarray,
                canonical_scene: bool = True) -> np.ndarray:
    """Normalised :func:`_state`, float32."""
    x = _state(robot_obs, scene_obs, canonical_scene)
    return ((x - mean) / std).astype(np.float32)


class StateBCNet(nn.Module):
    """MLP (state, goal) -> tanh action; the goal is a one-hot task or a 384-d embedding.

    ``goal_code`` > 0: the goal first passes an encoder (MLP -> ``goal_code``-d, LayerNorm)
    that also feeds a task classifier (``tasks`` classes), trained next to BC on the
    annotations' task labels (:meth:`task_logits`)."""

    def __init__(self, state_dim: int, goal_dim: int, units: int = 256, layers: int = 3,
                 goal_code: int = 0, tasks: int = 0, posterior: str | bool = "") -> None:
        super().__init__()
        mods: list[nn.Module] = []
        self.goal_encoder = None
        # networks saved before 'hard' existed stored True for the soft posterior
        self.posterior = {True: "soft", False: ""}.get(posterior, posterior)
        if self.posterior not in POSTERIORS:
            raise LadderError(f"goal posterior must be one of {POSTERIORS}, got {posterior!r}")
        if goal_code:
            self.goal_encoder = nn.Sequential(nn.Linear(goal_dim, units), nn.ReLU(),
                                              nn.Linear(units, goal_code),
                                              nn.LayerNorm(goal_code))
            self.task_head = nn.Linear(goal_code, tasks)
            goal_dim = tasks if posterior else goal_code
        inp = state_dim + goal_dim
        for _ in range(layers):
            mods += [nn.Linear(inp, units), nn.LayerNorm(units), nn.ELU()]
            inp = units
        mods.append(nn.Linear(inp, 7))
        self.net = nn.Sequential(*mods)

    def code(self, goal: torch.Tensor) -> torch.Tensor:
        """The goal encoder's code (the goal itself without an encoder)."""
        return goal if self.goal_encoder is None else self.goal_encoder(goal)

    def task_logits(self, goal: torch.Tensor) -> torch.Tensor:
        """The task classifier on the goal code (only with ``goal_code``)."""
        return self.task_head(self.code(goal))

    def seen_goal(self, goal: torch.Tensor) -> torch.Tensor:
        """What the action network sees: the code; with ``posterior='soft'`` the classifier's
        task probabilities, with ``'hard'`` the one-hot of its most likely task (no BC
        gradient into the classifier either way)."""
        if self.posterior == "soft":
            return self.task_logits(goal).softmax(-1).detach()
        if self.posterior == "hard":
            logits = self.task_logits(goal).detach()
            return nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
        return self.code(goal)

    def forward(self, state: torch.Tensor, goal: torch.Tensor,
                seen: torch.Tensor | None = None) -> torch.Tensor:
        """Action in [-1, 1]^7; ``seen`` replaces what the action network sees of the goal
        (training the hard posterior's action network on the true task)."""
        seen = self.seen_goal(goal) if seen is None else seen
        return torch.tanh(self.net(torch.cat([state, seen], -1)))


def annotated_frames(dataset: str | Path, split: str = "training") -> dict:
    """Every frame inside a language-annotated window, with its window's task and embedding
    (``rows``: the frames' rows in the split, which are also their rows in its features)."""
    from lumos_core.data.dataset import PlayData

    split_dir = Path(dataset) / split
    data = PlayData(split_dir, images=False, progress=False)
    lang = data.language()                   # windows outside any episode skipped, counted
    if not len(lang["rows"]):
        raise LadderError(f"{split_dir}: no language annotations")
    rows, window = [], []
    for i, (s, e) in enumerate(lang["rows"]):
        r = np.arange(s, e + 1)
        rows.append(r)
        window.append(np.full(len(r), i))
    rows, window = np.concatenate(rows), np.concatenate(window)
    return {"robot_obs": np.asarray(data.arrays["robot_obs"])[rows],
            "scene_obs": np.asarray(data.arrays["scene_obs"])[rows],
            "actions": np.asarray(data.arrays["rel_actions"])[rows],
            "task": [lang["task"][i] for i in window],
            "emb": np.asarray(lang["emb"][window], np.float32),
            "windows": len(lang["rows"]), "rows": rows,
            "frame_ids": np.asarray(data.frame_ids)[rows]}


INPUTS = ("state", "h", "hz", "decoded", "hz+decoded")


@torch.no_grad()
def decoded_state(world_model, feat) -> np.ndarray:
    """The world model's reconstruction of concat(robot_obs, scene_obs) from features
    (..., feat_dim), in physical units with canonical angles, float32 (..., 39): the part of
    the state the latent carries, read out by the model's own decoder."""
    feat = torch.as_tensor(np.asarray(feat, np.float32))
    return world_model.decode_state(feat).numpy().astype(np.float32)


def _latent_inputs(features: str | Path, frames: dict, kind: str) -> tuple[np.ndarray, str]:
    """The filtered world-model latents (``h`` or ``(h, z)``) of the annotated frames, their
    reconstruction of the state by the world model's decoder (``decoded``) or both
    (``hz+decoded``), and the world model they came from."""
    from lumos_core.featurize import Features

    feats = Features(Path(features) / "training")
    if not np.array_equal(np.asarray(feats.arrays["frame_ids"])[frames["rows"]],
                          frames["frame_ids"]):
        raise LadderError(f"--features {features}: its frames are not the dataset's (featurize "
                          "this dataset with `lumos featurize`)")
    x = np.asarray(feats.arrays["features"][np.sort(frames["rows"])], np.float32)
    x = x[np.argsort(np.argsort(frames["rows"]))]
    if kind == "h":
        x = x[:, :int(feats.meta["deter"])]
    elif kind in ("decoded", "hz+decoded"):
        from lumos_core.featurize import load_world_model

        world_model, _ = load_world_model(feats.meta["checkpoint"])
        if world_model.cfg.obs_mode != "state":
            raise LadderError(f"--inputs {kind} reads the state decoder of a state-mode world "
                              f"model; {feats.meta['checkpoint']} is a vision model")
        decoded = np.concatenate([decoded_state(world_model, x[i:i + 65536])
                                  for i in range(0, len(x), 65536)])
        x = decoded if kind == "decoded" else np.concatenate([x, decoded], 1)
    return x, feats.meta["checkpoint"]


def train_state_bc(dataset: str | Path, out: str | Path, goal: str = "task",
                   steps: int = 6000, batch: int = 512, lr: float = 1e-3, seed: int = 0,
                   progress: bool = True, inputs: str = "state",
                   features: str | Path | None = None, resample_goal: bool = False,
                   task_loss: float = 0.0, goal_posterior: str = "") -> dict:
    """Train rung (b) (``goal='task'``) or (c) (``goal='language'``); writes ``out``.

    ``inputs='h'``/``'hz'`` trains the same network on the world model's filtered latents of
    the same frames (``features``: the output of ``lumos featurize`` on ``dataset``) -- the
    step between the true state and the agents (rung d0): if it matches the true-state rung,
    the latents carry what the task needs and a gap of the agents lies in their training.

    ``goal_posterior`` (with ``task_loss``): the action network sees the task classifier's
    probabilities (``'soft'``) or the one-hot of its most likely task (``'hard'``; trained on
    the annotation's task, so that it is rung (b)'s network behind a sentence classifier).
    """
    from tqdm import tqdm

    from lumos_core.sim.tasks import TASKS

    if goal not in ("task", "language"):
        raise LadderError(f"goal must be 'task' or 'language', got {goal!r}")
    if inputs not in INPUTS:
        raise LadderError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
    if inputs != "state" and features is None:
        raise LadderError(f"inputs {inputs!r} needs --features (the output of `lumos "
                          "featurize` on the dataset)")
    if goal != "language" and (resample_goal or task_loss > 0):
        raise LadderError("resample_goal and task_loss shape a language goal: use them with "
                          f"goal 'language', got {goal!r}")
    if goal_posterior not in POSTERIORS:
        raise LadderError(f"goal_posterior must be one of {POSTERIORS}, got {goal_posterior!r}")
    if goal_posterior and task_loss <= 0:
        raise LadderError("goal_posterior needs the task classifier: task_loss > 0")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    frames = annotated_frames(dataset)
    world_model = None
    if inputs == "state":
        x_raw = _state(frames["robot_obs"], frames["scene_obs"])
    else:
        x_raw, world_model = _latent_inputs(features, frames, inputs)
    mean, std = x_raw.mean(0), np.maximum(x_raw.std(0), 1e-2)
    x = torch.as_tensor((x_raw - mean) / std, dtype=torch.float32)
    tasks = list(TASKS)
    task_ids = torch.as_tensor([tasks.index(t) for t in frames["task"]])
    if goal == "task":
        g = torch.nn.functional.one_hot(task_ids, len(tasks)).float()
    else:
        g = torch.as_tensor(frames["emb"])
    y = torch.as_tensor(frames["actions"], dtype=torch.float32)
    pools = None
    if resample_goal:
        from lumos_core.agent_data import ParaphrasePools

        pools = ParaphrasePools(frames["task"], frames["emb"])
    code = GOAL_CODE if task_loss > 0 else 0
    net = StateBCNet(x.shape[1], g.shape[1], goal_code=code, tasks=len(tasks),
                     posterior=goal_posterior)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    started = time.perf_counter()
    for step in tqdm(range(steps), desc=f"state-bc ({goal})", disable=not progress):
        idx = torch.as_tensor(rng.integers(len(x), size=batch))
        goals = g[idx] if pools is None else pools.draw(idx.numpy(), rng)
        seen = (nn.functional.one_hot(task_ids[idx], len(tasks)).float()
                if net.posterior == "hard" else None)
        loss = (net(x[idx], goals, seen) - y[idx]).pow(2).mean()
        if code:
            loss = loss + task_loss * nn.functional.cross_entropy(net.task_logits(goals),
                                                                  task_ids[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = {"goal": goal, "inputs": inputs, "steps": steps, "batch": batch,
            "resample_goal": bool(pools is not None), "task_loss": task_loss,
            "goal_posterior": net.posterior,
            "windows": frames["windows"], "frames": len(x), "final_mse": float(loss.item()),
            "train_seconds": time.perf_counter() - started, "dataset": str(dataset),
            "world_model": world_model}
    torch.save({"state_dict": net.state_dict(), "mean": mean, "std": std, "tasks": tasks,
                "goal_code": code, "goal_posterior": net.posterior,
                "goal": goal, "state_dim": x.shape[1], "goal_dim": g.shape[1], "info": info,
                "canonical_scene": True, "inputs": inputs, "world_model": world_model},
               out / STATE_BC_FILE)
    (out / "info.json").write_text(json.dumps(info, indent=2))
    return info


#: groups of concat(robot_obs, scene_obs) dimensions for :func:`observe_through`
THROUGH_DIMS = {"all": list(range(39)), "robot": list(range(15)), "scene": list(range(15, 39)),
                "tcp-position": [0, 1, 2], "tcp-orientation": [3, 4, 5],
                "all-but-roll-pitch": [i for i in range(39) if i not in (3, 4)]}


def observe_through(policy: str | Path, world_model: str | Path, out: str | Path,
                    replace: str = "all") -> Path:
    """Rung (d1): a true-state network (rung b/c) that sees, in place of the ``replace``
    dimensions of the true state, the world model's reconstruction of them from its filtered
    latent (the filter run on the same observations). Whether the latents carry what the
    task needs, at the precision it needs, without learning anything new. Writes a state-bc
    directory ``out`` to evaluate."""
    if replace not in THROUGH_DIMS:
        raise LadderError(f"replace must be one of {', '.join(THROUGH_DIMS)}, got {replace!r}")
    if not is_state_bc(policy):
        raise LadderError(f"{policy}: not a `lumos ladder state-bc` directory")
    data = torch.load(Path(policy) / STATE_BC_FILE, weights_only=False)
    if data.get("inputs", "state") != "state":
        raise LadderError(f"{policy}: trained on {data['inputs']!r}, not on the true state")
    data.update(observe_through=str(world_model), observe_through_dims=THROUGH_DIMS[replace])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(data, out / STATE_BC_FILE)
    info = {**data["info"], "observe_through": str(world_model), "replace": replace}
    (out / "info.json").write_text(json.dumps(info, indent=2))
    return out


def is_state_bc(path: str | Path) -> bool:
    """Whether ``path`` is a directory written by :func:`train_state_bc`."""
    return (Path(path) / STATE_BC_FILE).exists()


class StateBCPolicy:
    """The CALVIN policy contract over a rung-(b)/(c) network.

    With a task goal, the instruction is looked up in the evaluation instruction set (the rung
    is *told* the task, like the expert); with a language goal, it is embedded with MiniLM.
    """

    needs_images = False

    def __init__(self, path: str | Path, instruction_to_task: dict[str, str]) -> None:
        data = torch.load(Path(path) / STATE_BC_FILE, weights_only=False)
        self.net = StateBCNet(data["state_dim"], data["goal_dim"],
                              goal_code=data.get("goal_code", 0), tasks=len(data["tasks"]),
                              posterior=data.get("goal_posterior", ""))
        self.net.load_state_dict(data["state_dict"])
        self.net.eval()
        self.mean, self.std = data["mean"], data["std"]
        # networks saved before block yaws were canonicalised saw raw yaws
        self.canonical_scene = bool(data.get("canonical_scene", False))
        self.tasks, self.goal_kind = data["tasks"], data["goal"]
        self.lookup = instruction_to_task
        self._goals: dict[str, torch.Tensor] = {}
        self.inputs = data.get("inputs", "state")
        self.world_model = None
        #: a world model whose filtered reconstruction of the state replaces the true state
        #: (rung d1: the true-state network seeing the state as precisely as the latents do)
        self.observe_through = data.get("observe_through")
        #: which dimensions of concat(robot_obs, scene_obs) the reconstruction replaces
        #: (default: all 39)
        self.through_dims = np.asarray(data.get("observe_through_dims", np.arange(39)), int)
        if self.inputs != "state" or self.observe_through:
            from lumos_core.featurize import load_world_model

            self.world_model, _ = load_world_model(self.observe_through
                                                   or data["world_model"])
        self.reset()

    def reset(self) -> None:
        """The true-state network is stateless; the latent one restarts its filter."""
        self.filter_state, self.prev_action = None, None

    def _latent(self, obs: dict) -> np.ndarray:
        """One filter step (as :class:`~lumos_core.policy.LumosPolicy` does) -> h or (h, z)."""
        from lumos_core.world_model import to_torch

        wm = self.world_model
        o = to_torch({"robot_obs": np.asarray(obs["robot_obs"], np.float32)[None, None],
                      "scene_obs": np.asarray(obs["scene_obs"], np.float32)[None, None]}, "cpu")
        if self.filter_state is None:
            self.filter_state, feat = wm.start(o)
        else:
            self.filter_state, feat, _ = wm.observe(
                self.filter_state, o, self.prev_action[:, None],
                torch.zeros(1, 1, dtype=torch.bool), prior=False)
            feat = feat[:, 0]
        if self.observe_through or self.inputs == "decoded":
            return decoded_state(wm, feat)[0]
        if self.inputs == "hz+decoded":
            return np.concatenate([feat[0].numpy(), decoded_state(wm, feat)[0]])
        feat = feat[0].numpy()
        return feat[:wm.cfg.deter] if self.inputs == "h" else feat

    def seed(self, seed: int) -> None:
        """The latent filter samples z from the posterior: seed it (the true-state network is
        deterministic)."""
        if self.world_model is not None:
            torch.manual_seed(seed)

    def _goal(self, text: str) -> torch.Tensor:
        if text not in self._goals:
            if self.goal_kind == "task":
                vec = torch.zeros(1, len(self.tasks))
                vec[0, self.tasks.index(self.lookup[text])] = 1.0
            else:
                from lumos_core.language import shared_encoder

                vec = torch.as_tensor(shared_encoder().encode_one(text), dtype=torch.float32)
                vec = vec.reshape(1, -1)
            self._goals[text] = vec
        return self._goals[text]

    @torch.no_grad()
    def step(self, obs: dict, goal: str) -> np.ndarray:
        """Action for ``obs`` towards ``goal`` (the gripper binarised)."""
        if self.inputs == "state":
            robot, scene = obs["robot_obs"], obs["scene_obs"]
            if self.observe_through:
                state = np.concatenate([robot, scene]).astype(np.float32)
                state[self.through_dims] = self._latent(obs)[self.through_dims]
                robot, scene = state[:15], state[15:]
            x = torch.as_tensor(state_input(robot, scene, self.mean, self.std,
                                            self.canonical_scene))[None]
        else:
            x = torch.as_tensor(((self._latent(obs) - self.mean) / self.std)
                                .astype(np.float32))[None]
        action = self.net(x, self._goal(goal))[0].numpy().astype(np.float64)
        action[6] = 1.0 if action[6] > 0 else -1.0
        if self.world_model is not None:
            self.prev_action = torch.as_tensor(action, dtype=torch.float32)[None]
        return action


# --- rung (e) diagnostic: does the DITTO reward separate expert from idle behaviour? --------
@torch.no_grad()
def reward_separation(features: str | Path, windows: int = 256, seed: int = 0,
                      preset: str = "state") -> list[dict]:
    """Mean DITTO reward (eq. 3) of imagined rollouts from the first latent of ``windows``
    expert windows under three action sequences -- the expert's own actions, holding still
    (zero deltas, the expert's gripper) and uniform random actions -- for each reward latent
    (h, hz) and normalisation (none, standardize, start), with the first latent long-history
    or history-free (as after a reset). A reward that teaches imitation gives the expert
    clearly more than holding still."""
    from lumos_core.agent_data import WindowSampler
    from lumos_core.config import load_config
    from lumos_core.featurize import Features, load_world_model

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    feats = Features(Path(features) / "training")
    world_model, _ = load_world_model(feats.meta["checkpoint"])
    agent_cfg = load_config(preset).agent
    sampler = WindowSampler(feats, Path(feats.meta["dataset"]) / "training", agent_cfg, rng)
    out = []
    for first in ("long-history", "history-free"):
        batch = sampler.sample(windows // 2, history_free=first == "history-free")
        out += _separation(world_model, agent_cfg, feats, batch, rng, first)
    return out


def _imagined_rewards(agent, feat: torch.Tensor, actions: torch.Tensor, steps: int,
                      expert_actions: torch.Tensor) -> torch.Tensor:
    """DITTO rewards (B, steps) of executing ``actions`` (B, >= steps, 7) open loop in the
    agent's world model from the expert windows' first latents ``feat[:, 0]``, each step
    compared with the agent's reward target of that step (the expert's latent, or its
    ``expert_actions`` imagined: ``agent.reward_target``; with ``agent.imagine_noise``
    'common' both rollouts draw with the same noise)."""
    gumbel = agent.imagination_noise(feat.shape[0], steps, feat.device)
    targets = agent.reward_targets(feat, expert_actions, steps, gumbel)
    imagined, _ = agent.world_model.imagine(agent._split(feat[:, 0]), actions[:, :steps],
                                            gumbel=gumbel)
    return agent.reward(imagined, targets, feat[:, :1])


def _separation(world_model, agent_cfg, feats, batch: dict, rng: np.random.Generator,
                first: str) -> list[dict]:
    from dataclasses import replace

    from lumos_core.agent import LumosAgent

    feat, actions, mask = batch["feat"], batch["actions"], batch["mask"]
    hold = torch.zeros_like(actions)
    hold[..., 6] = actions[..., 6]
    rand = torch.rand_like(actions) * 2 - 1
    rand[..., 6] = torch.where(rand[..., 6] > 0, 1.0, -1.0)
    sample = torch.as_tensor(feats.sample(rng))
    out = []
    for latent in ("h", "hz"):
        for norm in ("none", "standardize", "start"):
            cfg = replace(agent_cfg, method="lumos", use_ditto=True, reward_latent=latent,
                          reward_norm=norm)
            agent = LumosAgent(cfg, world_model)
            agent.set_reward_statistics(sample)
            row = {"first_latent": first, "reward_latent": latent, "reward_norm": norm}
            for name, acts in (("expert", actions), ("hold", hold), ("random", rand)):
                r = _imagined_rewards(agent, feat, acts, feat.shape[1] - 1, actions)
                m = mask[:, 1:].float()
                row[name] = float((r * m).sum() / m.sum())
            row["hold_over_expert"] = (row["hold"] / row["expert"] if row["expert"]
                                       else float("nan"))
            out.append(row)
    return out


def ditto_optimum(features: str | Path, overrides: list[str] | None = None, windows: int = 64,
                  iterations: int = 150, lr: float = 0.05, seed: int = 0,
                  preset: str = "state", simulate: bool = False) -> list[dict]:
    """Does maximising the DITTO reward in imagination recover the expert's actions?

    From the first latent of ``windows`` language windows (long history), the action
    sequence itself is optimised (Adam on pre-tanh actions, ``iterations`` steps, one imagined
    rollout per step) to maximise the mean reward of eq. 3 against the expert's latents --
    what an actor trained by DITTO alone converges to, without an actor's limits. Starts from
    holding still and from the expert's own actions. Returns rows of mean reward (four
    rollouts, fixed seed) and MSE of the 6 arm dimensions to the expert's actions: if the
    optimum lies far from the expert's actions with more reward than the expert's, the reward
    in this world model does not teach imitation (model exploitation).

    ``simulate``: each sequence is also executed in the simulator from the window's recorded
    start state, and the rows report how far the real TCP ends from where the expert's did
    (``tcp_end_mm``, median) and the mean distance of the real scene objects (fixtures and
    blocks, normalised units) to the expert's recorded ones at the end (``scene_end``)."""
    from lumos_core.agent import LumosAgent
    from lumos_core.agent_data import WindowSampler
    from lumos_core.config import load_config
    from lumos_core.featurize import Features, load_world_model

    rng = np.random.default_rng(seed)
    feats = Features(Path(features) / "training")
    world_model, _ = load_world_model(feats.meta["checkpoint"])
    cfg = load_config(preset, ["agent.method=lumos", "agent.use_ditto=true",
                               "agent.image_goals=false"] + list(overrides or [])).agent
    agent = LumosAgent(cfg, world_model)
    agent.set_reward_statistics(torch.as_tensor(feats.sample(rng)))
    sampler = WindowSampler(feats, Path(feats.meta["dataset"]) / "training", cfg, rng)
    if not sampler.has_language:
        raise LadderError(f"{features}: its dataset has no language windows")
    batch = sampler.sample(windows, history_free=False)
    feat = batch["feat"]
    horizon = min(cfg.horizon, feat.shape[1])
    expert = batch["actions"][:, :horizon - 1]

    def reward(actions: torch.Tensor, seed: int, rollouts: int) -> torch.Tensor:
        total = torch.zeros(())
        for r in range(rollouts):
            torch.manual_seed(seed + r)
            total = total + _imagined_rewards(agent, feat, actions, horizon - 1,
                                              batch["actions"]).mean()
        return total / rollouts

    def row(name: str, actions: torch.Tensor, steps: int = 0) -> dict:
        with torch.no_grad():
            r = float(reward(actions, 10_000, 4))
        mse = float((actions - expert)[..., :6].pow(2).mean())
        return {"actions": name, "steps": steps, "reward": r, "mse_to_expert": mse}

    hold = torch.zeros_like(expert)
    hold[..., 6] = expert[..., 6]
    rand = torch.rand(expert.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    rand[..., 6] = torch.where(rand[..., 6] > 0, 1.0, -1.0)
    sequences = [("expert", expert, 0), ("hold still", hold, 0), ("random", rand, 0)]
    for name, start in (("hold still", hold), ("expert", expert)):
        u = torch.atanh(start.clamp(-0.99, 0.99)).clone().requires_grad_(True)
        opt = torch.optim.Adam([u], lr=lr)
        for it in range(iterations):
            loss = -reward(torch.tanh(u), it, 1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sequences.append((f"optimised from {name}", torch.tanh(u).detach(), iterations))
    out = [row(name, actions, steps) for name, actions, steps in sequences]
    if simulate:
        real = _simulate_sequences(feats, batch["rows"], [a for _, a, _ in sequences])
        for r, stats in zip(out, real):
            r.update(stats)
    return out


def ditto_progress(policy: str | Path, features: str | Path, overrides: list[str] | None = None,
                   updates: int = 200, every: int = 25, windows: int = 64,
                   seed: int = 0, simulate: bool = False) -> list[dict]:
    """Does DITTO training improve its own objective? From ``policy`` (a checkpoint of an
    imagining agent, e.g. the end of its BC warm-up), ``updates`` training batches of the
    checkpoint's configuration with ``overrides`` (after the warm-up: DITTO), and every
    ``every`` updates the *exact* objective on ``windows`` fixed language and image windows:
    the mean DITTO reward of the actor's mean actions rolled out with the same Gumbel noise as
    the expert's recorded actions, which earn 1 (``reward_target=imagined``,
    ``imagine_noise=common``, ``imagine_action=mean``), and the actor's BC error on them.

    The ditto-optimum rung optimises action sequences directly; this one puts the actor, its
    optimiser and the critic between the objective and the actions: a reward that falls
    while the actor trains on it locates the failure in that machinery.

    ``simulate``: the action sequences the actor produced in those imagined rollouts are also
    executed in the simulator from the windows' recorded starts (``tcp_end_mm``,
    ``scene_end`` as in ditto-optimum; the first row adds the expert's own): whether what the
    world model scores higher is also closer to the expert in reality."""
    import tempfile
    from dataclasses import replace

    from lumos_core.agent import LumosAgent
    from lumos_core.checkpoint import load_checkpoint
    from lumos_core.config import merge, parse_override
    from lumos_core.featurize import Features
    from lumos_core.train_agent import AgentTrainer

    ckpt = load_checkpoint(policy, kind="policy")
    cfg = ckpt.lumos_config()
    for text in overrides or []:
        cfg = merge(cfg, parse_override(text))
    if not (cfg.agent.method == "lumos" and cfg.agent.use_ditto):
        raise LadderError(f"{policy}: ditto-progress needs an imagining agent (agent.method="
                          f"lumos, use_ditto true), not method={cfg.agent.method}, "
                          f"use_ditto={cfg.agent.use_ditto}")
    with tempfile.TemporaryDirectory() as tmp:
        trainer = AgentTrainer(cfg, features, tmp, progress=False)
    behaviour = trainer.agent.behaviour
    trainer.load_weights_and_optimizers(ckpt)
    trainer.step = max(int(ckpt.meta.get("extra", {}).get("step", 0)), cfg.agent.bc_warmup)
    exact = LumosAgent(replace(cfg.agent, reward_target="imagined", imagine_noise="common",
                               imagine_action="mean", bootstrap="none", ditto_bc_scale=1.0),
                       trainer.agent.world_model)
    exact.behaviour = behaviour                         # shared: evaluates the trained actor
    rng = np.random.default_rng(seed)
    sampler = trainer.sampler
    saved_rng, sampler.rng = sampler.rng, rng
    batch = sampler.sample(max(1, windows // 2), history_free=False)
    sampler.rng = saved_rng
    steps = min(cfg.agent.horizon, batch["feat"].shape[1]) - 1
    noise = exact.world_model.rssm.gumbel_noise(
        batch["feat"].shape[0], steps, generator=torch.Generator().manual_seed(seed))
    exact.imagination_noise = lambda *args: noise
    # the actions of the measured rollouts themselves, for the simulator
    recorded: list[torch.Tensor] = []
    imagined_action = exact.imagined_action

    def record(feat: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        recorded.append(imagined_action(feat, cond))
        return recorded[-1]

    if simulate:
        exact.imagined_action = record
    sequences: list[torch.Tensor] = []

    def measure(update: int, train: list[dict]) -> dict:
        behaviour.eval()
        recorded.clear()
        with torch.no_grad():
            torch.manual_seed(seed)                     # the plans' draws
            _, _, m = exact.losses(batch)
        behaviour.train()
        if simulate:
            actions = torch.stack(recorded, 1)
            actions[..., 6] = torch.where(actions[..., 6] > 0, 1.0, -1.0)   # as executed
            sequences.append(actions)
        mean = (lambda key: float(np.mean([t[key] for t in train if key in t]))
                if any(key in t for t in train) else float("nan"))
        return {"update": update, "reward": m["reward"], "bc_mse": m["bc_mse"],
                "train_reward": mean("reward"), "train_bc_mse": mean("bc_mse")}

    rows, train = [measure(0, [])], []
    for k in range(1, updates + 1):
        train.append(trainer.train_step())
        if k % every == 0 or k == updates:
            rows.append(measure(k, train))
            train = []
    if simulate:                                        # one simulator for every sequence
        real = _simulate_sequences(Features(Path(features) / "training"), batch["rows"],
                                   sequences + [batch["actions"][:, :steps]])
        for row, stats in zip(rows, real):
            row.update(stats)
        rows[0].update({f"expert_{k}": v for k, v in real[-1].items()})
    return rows


def _simulate_sequences(feats, rows: np.ndarray, sequences: list[torch.Tensor]
                        ) -> list[dict]:
    """Execute each (B, K, 7) action sequence in the simulator from the recorded state of
    each window's first row and compare the end with the window's row K (padded windows
    repeat their last frame: the expert stays where the window ended)."""
    from lumos_core.config import SimConfig
    from lumos_core.data.dataset import PlayData
    from lumos_core.sim.env import PlayTableEnv

    data = PlayData(Path(feats.meta["dataset"]) / "training", images=False, progress=False)
    robot, scene = data.arrays["robot_obs"], data.arrays["scene_obs"]
    scene_std = np.maximum(np.asarray(scene).std(0), 1e-2)
    steps = sequences[0].shape[1]
    results = []
    env = PlayTableEnv(SimConfig(render=False))
    try:
        for actions in sequences:
            tcp, objects = [], []
            for b, window in enumerate(np.asarray(rows)):
                s, end = int(window[0]), int(window[steps])
                env.reset(options={"scene_obs": np.asarray(scene[s]),
                                   "robot_obs": np.asarray(robot[s])})
                for k in range(steps):
                    obs, *_ = env.step(actions[b, k].numpy().astype(np.float64))
                tcp.append(1000 * np.linalg.norm(obs["robot_obs"][:3] - robot[end][:3]))
                objects.append(np.mean(np.abs(obs["scene_obs"] - scene[end]) / scene_std))
            results.append({"tcp_end_mm": float(np.median(tcp)),
                            "scene_end": float(np.mean(objects))})
    finally:
        env.close()
    return results


# --- rung (e) diagnostic: closed loop from the play data's own starts ---------------------
def _frame_rows(data) -> tuple[dict[int, int], np.ndarray]:
    """For a :class:`PlayData`: its row of each frame id, and for each row the row its
    episode starts at (how far back a filter may read recorded history)."""
    row_of = {int(f): i for i, f in enumerate(data.frame_ids)}
    episode_start = np.zeros(len(data.frame_ids), np.int64)
    for s, e in data.segments:
        episode_start[s:e + 1] = s
    return row_of, episode_start


def from_play(policy: str | Path, dataset: str | Path, split: str = "training",
              events: int = 200, history: int = 16, robot_start: str = "recorded",
              instructions: str = "eval", max_steps: int | None = None,
              observe_every: int = 1, seed: int = 0, progress: bool = True) -> dict:
    """Run ``policy`` closed loop from the recorded starts of ``events`` random task
    completions of the play data (those that start with a block in the hand are left out: a
    reset cannot restore a grasp) and count the tasks it completes.

    Evaluation chains start every subtask from the neutral pose, rarely seen in play; DITTO
    trains on imagined rollouts from play states. This rung runs the policy where the data
    was: the scene and (``robot_start="recorded"``) the robot are reset to the recorded
    state of the frame the expert began the task at, and the policy's world-model filter has
    first read the ``history`` recorded frames before it (observations and executed actions,
    within the episode), as in training. ``robot_start="neutral"`` starts the robot at the
    evaluation's neutral pose in the same recorded scene (the filter then starts history-free,
    as after an evaluation reset): the same tasks and sentences, only the robot's start
    differs. The instruction is a paraphrase of the task from the evaluation file (``eval``,
    never trained on) or the training file (``train``); every policy run with the same seed
    sees the same events, starts and sentences.

    ``observe_every`` K > 1 (policies with a world-model filter): the policy observes the
    simulator only every K steps; in between it acts on the world model's prediction (a prior
    step after its own action), as the actor does throughout DITTO's imagination -- K = 32
    runs the robot in the imagination's segments, K = 1 is closed loop."""
    from tqdm import tqdm

    from lumos_core.config import SimConfig
    from lumos_core.data.dataset import PlayData
    from lumos_core.evaluation import MAX_STEPS, make_policy, policy_needs_images
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.env import PlayTableEnv
    from lumos_core.sim.tasks import SceneState, completed_tasks

    if robot_start not in ("recorded", "neutral"):
        raise LadderError(f"robot_start must be 'recorded' or 'neutral', got {robot_start!r}")
    if instructions not in ("eval", "train"):
        raise LadderError(f"instructions must be 'eval' or 'train', got {instructions!r}")
    if observe_every < 1:
        raise LadderError(f"observe_every must be >= 1 steps, got {observe_every}")
    if history < 0:
        raise LadderError(f"history must be >= 0 frames, got {history}")
    if policy_needs_images(str(policy)):
        raise LadderError(f"{policy}: from-play runs state-mode policies (the simulator "
                          "renders no cameras here); a vision policy needs `lumos evaluate`")
    max_steps = MAX_STEPS if max_steps is None else max_steps
    split_dir = Path(dataset) / split
    data = PlayData(split_dir, images=False, progress=progress)
    row_of, episode_start = _frame_rows(data)
    candidates = [e for m in read_episode_meta(split_dir) for e in m["events"]
                  if e["task"] not in HELD_START_TASKS]
    if not candidates:
        raise LadderError(f"{split_dir}: no recorded task completions that start with an "
                          "empty hand (episode metadata written by `lumos collect` is needed)")
    sentences = load_instruction_file(config_file(f"sim_instructions_{instructions}.yaml"))
    rng = np.random.default_rng(seed)
    chosen = [candidates[i] for i in rng.permutation(len(candidates))[:events]]
    texts = [str(rng.choice(sentences[e["task"]])) for e in chosen]
    robot, scene = data.arrays["robot_obs"], data.arrays["scene_obs"]
    actions = data.arrays["rel_actions"]
    env = PlayTableEnv(SimConfig(render=False))
    agent = make_policy(str(policy), env, sentences, seed)
    # a filter reads the recorded history first (the expert and state-bc networks have none)
    warm = history if robot_start == "recorded" and hasattr(agent, "filter") else 0
    if observe_every > 1 and not hasattr(agent, "predict"):
        raise LadderError(f"observe_every {observe_every} needs a policy with a world model "
                          f"(a policy checkpoint), not {policy}")
    per_task = defaultdict(lambda: [0, 0])
    steps_to_success, outcomes = [], []
    try:
        for event, text in tqdm(list(zip(chosen, texts)), desc="from-play",
                                disable=not progress):
            s = row_of[int(event["start"])]
            options = {"scene_obs": np.asarray(scene[s])}
            if robot_start == "recorded":
                options["robot_obs"] = np.asarray(robot[s])
            obs, _ = env.reset(options=options)
            start = SceneState(env.scene_obs(), env.held_block())
            agent.reset()
            if warm:
                for row in range(max(int(episode_start[s]), s - warm), s):
                    agent.filter({"robot_obs": np.array(robot[row]),
                                  "scene_obs": np.array(scene[row])})
                    agent.set_previous_action(actions[row])
            ok = False
            for step in range(max_steps):
                if step % observe_every == 0:
                    action = agent.step(obs, text)
                else:
                    action = agent.act(agent.predict(), text)
                obs, *_ = env.step(action)
                if event["task"] in completed_tasks(start, SceneState(obs["scene_obs"],
                                                                      env.held_block())):
                    ok = True
                    steps_to_success.append(step + 1)
                    break
            per_task[event["task"]][0] += ok
            per_task[event["task"]][1] += 1
            outcomes.append({"start_frame": int(event["start"]), "task": event["task"],
                             "instruction": text, "success": ok})
    finally:
        env.close()
    done = sum(v[0] for v in per_task.values())
    total = sum(v[1] for v in per_task.values())
    return {"policy": str(policy), "events": total, "success": done, "rate": done / total,
            "robot_start": robot_start, "history": warm, "instructions": instructions,
            "observe_every": observe_every,
            "max_steps": max_steps, "seed": seed,
            "median_steps_to_success": (float(np.median(steps_to_success))
                                        if steps_to_success else None),
            "per_task": {t: {"success": k, "total": n}
                         for t, (k, n) in sorted(per_task.items())},
            "outcomes": outcomes}                 # per event, for paired comparisons


# --- diagnostic: how well a policy fits the recorded actions, task by task --------------------
def action_fit(policy: str | Path, dataset: str | Path, split: str = "validation",
               windows: int = 20, history: int = 16, seed: int = 0,
               progress: bool = True) -> dict:
    """Teacher-forced actions of a state-mode policy checkpoint on recorded language windows:
    up to ``windows`` random windows per task; the policy's filter reads the ``history``
    recorded frames before each window and then every recorded frame of it (with the
    recorded executed actions), and at each frame of the window its action for the window's
    own annotation embedding is compared with the recorded ``rel_actions``.

    Per task: MSE over the six arm dimensions, the cosine between the predicted and recorded
    TCP motion (xyz) over the window's first half (the approach, where the target decides
    the direction) and whole, and how often the gripper command agrees. On the training split
    it says what the policy failed to fit; on the validation split, what it failed to learn.
    Closed-loop failures of one task family with a poor fit here point at the policy's
    inputs or capacity, not at where evaluation starts (the from-play and trace rungs)."""
    from tqdm import tqdm

    from lumos_core.data.calvin import read_annotations
    from lumos_core.data.dataset import PlayData
    from lumos_core.evaluation import policy_needs_images
    from lumos_core.policy import LumosPolicy
    from lumos_core.sim.tasks import FIXTURE_TASKS

    if windows < 1 or history < 0:
        raise LadderError(f"windows must be >= 1 and history >= 0, got {windows} and "
                          f"{history}")
    if not Path(policy).is_dir():
        raise LadderError(f"{policy}: not a policy checkpoint directory")
    if policy_needs_images(str(policy)):
        raise LadderError(f"{policy}: the fit rung runs state-mode policies")
    split_dir = Path(dataset) / split
    ann = read_annotations(split_dir)
    if not ann["info"]["indx"]:
        raise LadderError(f"{split_dir}: no language annotations")
    data = PlayData(split_dir, images=False, progress=progress)
    row_of, episode_start = _frame_rows(data)
    rng = np.random.default_rng(seed)
    by_task = defaultdict(list)
    for i, task in enumerate(ann["language"]["task"]):
        by_task[task].append(i)
    chosen = [(task, int(i)) for task in sorted(by_task)
              for i in rng.permutation(by_task[task])[:windows]]
    agent = LumosPolicy(policy)
    robot, scene = data.arrays["robot_obs"], data.arrays["scene_obs"]
    actions = data.arrays["rel_actions"]
    sums = defaultdict(lambda: defaultdict(list))
    for task, i in tqdm(chosen, desc="fit", disable=not progress):
        first, last = (row_of[int(f)] for f in ann["info"]["indx"][i])
        goal = ann["language"]["emb"][i, 0]
        agent.reset()
        for row in range(max(int(episode_start[first]), first - history), last + 1):
            feat = agent.filter({"robot_obs": np.array(robot[row]),
                                 "scene_obs": np.array(scene[row])})
            if row >= first:
                act, rec = agent.act(feat, goal), np.asarray(actions[row], np.float64)
                cos = float(np.dot(act[:3], rec[:3])
                            / (np.linalg.norm(act[:3]) * np.linalg.norm(rec[:3]) + 1e-6))
                sums[task]["mse"].append(float(np.mean((act[:6] - rec[:6]) ** 2)))
                sums[task]["cos"].append(cos)
                if row <= (first + last) / 2:
                    sums[task]["cos_approach"].append(cos)
                sums[task]["gripper"].append(float((act[6] > 0) == (rec[6] > 0)))
            agent.set_previous_action(actions[row])
    per_task = {task: {"windows": sum(t == task for t, _ in chosen),
                       **{k: float(np.mean(v)) for k, v in m.items()}}
                for task, m in sums.items()}
    groups = {}
    for name, members in (("fixture tasks", [t for t in per_task if t in FIXTURE_TASKS]),
                          ("block tasks", [t for t in per_task if t not in FIXTURE_TASKS])):
        if members:
            groups[name] = {"windows": sum(per_task[t]["windows"] for t in members),
                            **{k: float(np.mean(np.concatenate([sums[t][k] for t in members])))
                               for k in ("mse", "cos", "cos_approach", "gripper")}}
    return {"policy": str(policy), "split": split, "history": history, "seed": seed,
            "groups": groups, "per_task": dict(sorted(per_task.items()))}


def fit_table(results: list[dict], names: list[str]) -> str:
    """Markdown: per policy, the groups and then each task (MSE / approach cosine)."""
    tasks = list(next(iter(results))["groups"]) + sorted(
        {t for r in results for t in r["per_task"]})
    head = "| | " + " | ".join(f"{n}: MSE / cos approach / cos" for n in names) + " |"
    lines = [head, "|---|" + "---|" * len(names)]
    for task in tasks:
        cells = []
        for r in results:
            v = r["groups"].get(task) or r["per_task"].get(task)
            cells.append("–" if v is None else
                         f"{v['mse']:.3f} / {v['cos_approach']:.2f} / {v['cos']:.2f} "
                         f"({v['windows']})")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- diagnostic: how a policy fails one task ------------------------------------------------
def trace_task(policy: str, task: str, trials: int = 12, seed: int = 0,
               max_steps: int = 360, progress: bool = True) -> dict:
    """Run ``policy`` on ``task`` alone from ``trials`` random states where it is feasible
    (the expert prepares them: a held block for placing/stacking) and say where it fails.

    Per trial: success and steps; for block tasks, at the first step the TCP is within 3 cm
    of the block's height, the horizontal distance to the block and the yaw error modulo pi
    (a grasp needs both small); whether and where the gripper closed (grasp tasks) or opened
    (placing/stacking: how far from the target block the held block was let go).
    """
    from tqdm import tqdm

    from lumos_core.benchmarks.expert import prepare
    from lumos_core.config import SimConfig
    from lumos_core.evaluation import make_policy
    from lumos_core.sim.env import BLOCKS, PlayTableEnv, wrap_angle
    from lumos_core.sim.expert import ScriptedExpert
    from lumos_core.sim.tasks import TASKS, SceneState, completed_tasks

    if task not in TASKS:
        raise LadderError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    rng = np.random.default_rng(seed)
    env = PlayTableEnv(SimConfig(render=False))
    expert = ScriptedExpert(env, rng)
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file

    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    text = instructions[task][0]             # an evaluation paraphrase (never trained on)
    agent = make_policy(policy, env, instructions, seed)
    color = next((c for c in BLOCKS if f"_{c}_" in task), None)
    rows = []
    try:
        for trial in tqdm(range(trials), desc=f"trace {task}", disable=not progress):
            if not prepare(env, expert, task, rng):
                continue
            start = SceneState(env.scene_obs(), env.held_block())
            held = start.held
            obs = {"robot_obs": env.robot_obs(), "scene_obs": env.scene_obs()}
            agent.reset()
            row = {"trial": trial, "success": False, "steps": max_steps}
            was_open = env.robot_obs()[14] > 0
            for step in range(max_steps):
                action = agent.step(obs, text)
                obs, *_ = env.step(action)
                tcp, euler = env.tcp_pose()
                if color and "near_block" not in row:
                    pos = env.block_pose(color)[0]
                    if tcp[2] < pos[2] + 0.03:
                        row["near_block"] = {
                            "step": step, "xy_mm": 1000 * float(np.linalg.norm(tcp[:2] - pos[:2])),
                            "yaw_rad": abs(float(wrap_angle(2 * (euler[2] - env.block_yaw(color))))
                                           / 2)}
                is_open = env.robot_obs()[14] > 0
                if was_open and not is_open and "closed_at" not in row:
                    row["closed_at"] = step
                if held and not was_open and is_open and "released" not in row:
                    others = [c for c in BLOCKS if c != held]
                    block = env.block_pose(held)[0]
                    row["released"] = {"step": step, "z": float(block[2]), "nearest_block_mm":
                                       1000 * min(float(np.linalg.norm(
                                           block[:2] - env.block_pose(c)[0][:2]))
                                           for c in others)}
                was_open = is_open
                if task in completed_tasks(start, SceneState(obs["scene_obs"],
                                                             env.held_block())):
                    row.update(success=True, steps=step + 1)
                    break
            rows.append(row)
    finally:
        env.close()
    near = [r["near_block"] for r in rows if "near_block" in r]
    summary = {"task": task, "instruction": text, "policy": str(policy), "trials": len(rows),
               "success": sum(r["success"] for r in rows), "rows": rows}
    if near:
        summary["near_block_median"] = {"xy_mm": float(np.median([n["xy_mm"] for n in near])),
                                        "yaw_rad": float(np.median([n["yaw_rad"]
                                                                    for n in near]))}
    summary["closed"] = sum("closed_at" in r for r in rows)
    summary["released"] = sum("released" in r for r in rows)
    return summary
