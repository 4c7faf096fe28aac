"""LumosPolicy: the one policy object for simulator evaluation, the CALVIN evaluator and ROS.

    policy = LumosPolicy("runs/agent/checkpoints/step_00005000")
    policy.reset()
    action = policy.step(obs, "open the drawer")     # 7-D relative action, CALVIN convention

Per step: one posterior filter step of the world model on the observation with the previous
action (gripper binarised, as in the data); every ``replan_every`` steps a plan is sampled from
the proposal; the actor acts (a sample or the mean); the gripper is binarised to +-1. The action
is already in the normalised CALVIN units the environment (or the robot bridge) expects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lumos_core.agent import BehaviourModel, state_decoder_of
from lumos_core.checkpoint import load_checkpoint
from lumos_core.data.dataset import resize
from lumos_core.world_model import CAMERAS, ZERO_ACTION, WorldModel


def check_language_model(model_id: str | None, checkpoint) -> None:
    """A policy trained on goal embeddings of one sentence model cannot be given another's:
    refuse a checkpoint whose language model is not the encoder this project embeds goals with
    (naming both); checkpoints without a record predate it and used this encoder."""
    from lumos_core.language import MODEL_ID

    if model_id not in (None, MODEL_ID):
        raise ValueError(f"{checkpoint}: trained on goal embeddings of {model_id}, but goals "
                         f"are embedded with {MODEL_ID}; retrain it (train-agent embeds the "
                         f"dataset's sentences with {MODEL_ID})")


class LumosPolicy:
    """``reset()`` / ``step(obs, goal)`` over a ``policy`` checkpoint."""

    def __init__(self, checkpoint: str | Path, device: str = "cpu",
                 action_mode: str | None = None, encoder=None, seed: int = 0,
                 grounding: str = "task") -> None:
        from lumos_core.grounding import check_mode

        check_mode(grounding)
        ckpt = load_checkpoint(checkpoint, kind="policy")
        self.cfg = ckpt.lumos_config()
        self.device = torch.device(device)
        self.world_model = WorldModel(self.cfg.world_model)
        self.world_model.load_state_dict(ckpt.state_dict("world_model"))
        self.behaviour = BehaviourModel(self.cfg.agent, self.cfg.world_model,
                                        state_decoder_of(self.world_model),
                                        self.world_model.state_units)
        self.behaviour.load_weights(ckpt.state_dict("behaviour"))
        self.world_model.to(self.device).eval()
        self.behaviour.to(self.device).eval()
        self.action_mode = action_mode or self.cfg.agent.action_mode
        self.instructions = ckpt.extra.get("instructions", {})
        self.language_model_id = ckpt.language_model_id
        check_language_model(self.language_model_id, checkpoint)
        self._encoder = encoder
        #: 'task': a text goal is replaced by the training paraphrase of the task a classifier
        #: over its token embeddings names (lumos_core.grounding); 'off': embedded as given
        self.grounding = grounding
        self._grounder = None
        #: why grounding is off or unavailable for this checkpoint/encoder (None: not yet
        #: asked, or grounding)
        self.grounding_note: str | None = None
        #: the Grounding of the last text goal (None: not grounded)
        self.last_grounding = None
        self.generator = torch.Generator()
        self.needs_images = self.cfg.world_model.obs_mode == "vision"
        self._not_first = torch.zeros(1, 1, dtype=torch.bool, device=self.device)
        self.seed(seed)
        self.reset()

    def seed(self, seed: int) -> None:
        """Seed the action and plan sampling."""
        self.generator.manual_seed(seed)
        torch.manual_seed(seed)

    @property
    def encoder(self):
        """The sentence encoder (loaded on first use)."""
        if self._encoder is None:
            from lumos_core.language import shared_encoder

            self._encoder = shared_encoder()
        return self._encoder

    def reset(self) -> None:
        """Start a new subtask: reset filter state, previous action, plan and step counter."""
        self.state = self.world_model.initial(1)
        self.prev_action = torch.tensor([ZERO_ACTION], device=self.device)
        self.plan = None
        self._goal_key, self._goal_vec = None, None     # the encoded goal of the last text
        self.counter = 0          # actions since reset (re-planning)
        self.filter_steps = 0     # observations filtered since reset

    def _obs(self, obs: dict) -> dict:
        out = {"robot_obs": torch.as_tensor(np.asarray(obs["robot_obs"], np.float32),
                                            device=self.device)[None, None]}
        if self.cfg.world_model.obs_mode == "state":
            out["scene_obs"] = torch.as_tensor(np.asarray(obs["scene_obs"], np.float32),
                                               device=self.device)[None, None]
        else:
            size = self.cfg.data.image_size
            for cam in CAMERAS:
                image = resize(np.asarray(obs[cam], np.uint8), size)
                out[cam] = torch.as_tensor(image, device=self.device)[None, None]
        return out

    def ground(self, text: str):
        """The :class:`~lumos_core.grounding.Grounding` of an instruction on this policy's
        training instructions, or None (grounding off or unavailable: ``grounding_note``)."""
        if self._grounder is None and self.grounding_note is None:
            from lumos_core.grounding import grounder_for

            self._grounder, self.grounding_note = grounder_for(
                self.grounding, self.instructions, self.encoder)
        return None if self._grounder is None else self._grounder.ground(text)

    def goal_embedding(self, goal) -> torch.Tensor:
        """A goal given as text (grounded, then embedded) or as a 384-d embedding."""
        if isinstance(goal, str):
            self.last_grounding = self.ground(goal)
            if self.last_grounding is not None:
                goal = self.last_grounding.sentence
            goal = self.encoder.encode_one(goal)
        emb = np.asarray(goal, np.float32).reshape(-1)
        if emb.shape != (384,):
            raise ValueError(f"goal embedding must have 384 values, got {emb.shape}")
        return torch.as_tensor(emb, device=self.device)[None]

    @torch.no_grad()
    def filter(self, obs: dict) -> torch.Tensor:
        """One posterior step; returns s_t (1, feat_dim)."""
        if self.filter_steps == 0:
            self.state, feat = self.world_model.start(self._obs(obs))
        else:
            self.state, feat, _ = self.world_model.observe(
                self.state, self._obs(obs), self.prev_action[:, None], self._not_first,
                prior=False)
            feat = feat[:, 0]
        self.filter_steps += 1
        return feat

    @torch.no_grad()
    def predict(self) -> torch.Tensor:
        """One prior step without an observation: the state the world model predicts after
        the previous action, as in imagination (open-loop diagnostics: the from-play rung's
        ``observe_every``). Returns s_t (1, feat_dim)."""
        if self.filter_steps == 0:
            raise RuntimeError("predict() needs a filtered state first: call filter() or "
                               "step() with an observation after reset()")
        self.state = self.world_model.img_step(self.state, self.prev_action)
        return self.state.feat

    @torch.no_grad()
    def step(self, obs: dict, goal) -> np.ndarray:
        """The action for ``obs`` towards ``goal`` (instruction text or embedding)."""
        return self.act(self.filter(obs), goal)

    def set_previous_action(self, action) -> None:
        """The action the robot actually executed (what the next filter step conditions on);
        the gripper is binarised as in the data."""
        # a copy: binarising in place must not write into the caller's array (a read-only
        # memory map of a dataset crashed the process)
        a = torch.tensor(np.asarray(action, np.float32), device=self.device).reshape(1, 7)
        a[..., 6] = torch.where(a[..., 6] > 0, 1.0, -1.0)
        self.prev_action = a

    @torch.no_grad()
    def act(self, feat: torch.Tensor, goal) -> np.ndarray:
        """The action for the latent state ``feat`` (1, feat_dim): re-plans every
        ``replan_every`` calls, samples (or takes the mean of) the actor, binarises the gripper.
        Used directly by the ROS policy node, which receives latents from the filter node."""
        b = self.behaviour
        feat = torch.as_tensor(feat, dtype=torch.float32, device=self.device).reshape(1, -1)
        key = goal if isinstance(goal, str) else None
        if key is None or self._goal_key != key:
            self._goal_vec = b.lang_goal(self.goal_embedding(goal))
            self._goal_key = key
        goal_vec = self._goal_vec
        if b.uses_plan and (self.plan is None or self.counter % self.cfg.agent.replan_every == 0):
            code = b.code(feat)
            self.plan = b.sample_plan(b.proposal(torch.cat([code, goal_vec], -1)),
                                      straight_through=False)
        mean, std = b.action_dist(feat, goal_vec, self.plan if b.uses_plan else None)
        if self.action_mode == "sample":
            noise = torch.randn(mean.shape, generator=self.generator).to(self.device)
            action = torch.tanh(mean + std * noise)
        else:
            action = torch.tanh(mean)
        action[..., 6] = torch.where(action[..., 6] > 0, 1.0, -1.0)
        self.prev_action = action
        self.counter += 1
        return action[0].cpu().numpy().astype(np.float64)


class CalvinModelAdapter:
    """CALVIN's evaluator model interface (``calvin_agent.models.calvin_base_model``):
    ``reset()`` and ``step(obs, goal)`` with CALVIN's observation dict
    (``obs["rgb_obs"]["rgb_static"]``, ``obs["robot_obs"]`` ...) and goal string; returns the
    7-D relative action. Use it in CALVIN's ``evaluate_policy.py`` in place of its model.
    ``grounding="off"`` embeds CALVIN's instructions as given (the protocol of published
    CALVIN results, whose policies see their sentence encoder only); the default grounds them
    on the checkpoint's training annotations (:mod:`lumos_core.grounding`)."""

    def __init__(self, checkpoint: str | Path, device: str = "cpu",
                 grounding: str = "task") -> None:
        self.policy = LumosPolicy(checkpoint, device, grounding=grounding)

    def reset(self) -> None:
        """New subtask."""
        self.policy.reset()

    def step(self, obs: dict, goal: str) -> np.ndarray:
        """CALVIN observation (nested ``rgb_obs``/``robot_obs`` or flat) -> action."""
        flat = dict(obs.get("rgb_obs", {}))
        for key in ("robot_obs", "scene_obs"):
            if key in obs:
                flat[key] = np.asarray(obs[key]).reshape(-1)
        return self.policy.step(flat, goal)
