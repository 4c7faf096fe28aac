"""DreamerV2-style world model (paper Sec. IV-A, eq. 1-2): an RSSM over two cameras, or over
the state vectors (state mode).

The recurrent state is explicit: whoever filters (training loop, evaluation, ROS node) owns it::

    state = wm.initial(batch)
    state, feat = wm.observe(state, obs, prev_action, is_first)   # obs: (B, T, ...) tensors
    feats, states = wm.imagine(state, actions_or_policy, horizon)
    recon = wm.decode(feat)

``feat`` is the latent state s_t = concat(h_t, z_t), z_t a straight-through one-hot sample of
``stoch`` categoricals with ``classes`` classes each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lumos_core.config import WorldModelConfig
from lumos_core.data.calvin import canonical_robot_obs, canonical_scene_obs

ZERO_ACTION = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)  # CALVIN's "no previous action": gripper open
ACTION_DIM = 7
ROBOT_OBS_DIM = 15
SCENE_OBS_DIM = 24
CAMERAS = ("rgb_static", "rgb_gripper")
MIN_STD = 0.05
#: per-dimension standard deviation of the state decoder's Gaussian, in units of
#: ``world_model.state_resolution`` (metres for positions): positions 1, angles and joints 10
#: (2 mm <-> 0.02 rad), the gripper width 0.5, the gripper action and the lights (0/1 or
#: +-1) 50; robot_obs (15) then scene_obs (24)
RESOLUTION_UNITS = ([1.0, 1.0, 1.0, 10.0, 10.0, 10.0, 0.5] + [10.0] * 7 + [50.0]
                    + [1.0, 1.0, 10.0, 10.0, 50.0, 50.0]
                    + [1.0, 1.0, 1.0, 10.0, 10.0, 10.0] * 3)


@dataclass
class State:
    """RSSM state: deterministic ``h`` (B, deter) and stochastic ``z`` (B, stoch * classes)."""

    h: torch.Tensor
    z: torch.Tensor

    def detach(self) -> "State":
        """The state without gradient history (truncated BPTT)."""
        return State(self.h.detach(), self.z.detach())

    @property
    def feat(self) -> torch.Tensor:
        """s = concat(h, z)."""
        return torch.cat([self.h, self.z], -1)


def _mlp(inp: int, units: int, layers: int, out: int | None = None) -> nn.Sequential:
    mods: list[nn.Module] = []
    for _ in range(layers):
        mods += [nn.Linear(inp, units), nn.LayerNorm(units, eps=1e-3), nn.ELU()]
        inp = units
    if out is not None:
        mods.append(nn.Linear(inp, out))
    return nn.Sequential(*mods)


class ConvEncoder(nn.Module):
    """4 conv layers (kernel 4, stride 2, no padding, ELU); 64x64 -> depth*8 x 2 x 2."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        chans = [3, depth, 2 * depth, 4 * depth, 8 * depth]
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(a, b, 4, 2), nn.ELU()]
        self.net = nn.Sequential(*layers)
        self.out_dim = 8 * depth * 2 * 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, 64, 64) in [-1, 1] -> (N, out_dim)."""
        return self.net(x).flatten(1)


class ConvDecoder(nn.Module):
    """Transposed convs (kernels 5, 5, 6, 6, stride 2) from a (32*depth, 1, 1) map to 64x64."""

    #: compute the first layer as a matrix product (False: nn.ConvTranspose2d, the reference
    #: that ``lumos benchmark world-model --compare-eager`` times as the plain path)
    matmul_first: bool = True

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(32 * depth, 4 * depth, 5, 2), nn.ELU(),
            nn.ConvTranspose2d(4 * depth, 2 * depth, 5, 2), nn.ELU(),
            nn.ConvTranspose2d(2 * depth, depth, 6, 2), nn.ELU(),
            nn.ConvTranspose2d(depth, 3, 6, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 32*depth) -> (N, 3, 64, 64), the mean in normalised pixel space.

        The first transposed convolution sees a 1 x 1 map: it is a matrix product with its
        weight viewed as (in, out * 5 * 5), computed as one (5-7x faster on a CPU than the
        deconvolution kernel; the same parameters and function, tested)."""
        if not self.matmul_first:                     # the reference path (benchmarks)
            return self.net(x[:, :, None, None])
        first = self.net[0]
        k = first.kernel_size[0]
        y = (x @ first.weight.flatten(1)).view(x.shape[0], -1, k, k)
        return self.net[1:](y + first.bias[:, None, None])


class RSSM(nn.Module):
    """GRU deterministic path, categorical prior p(z|h) and posterior q(z|h, e)."""

    def __init__(self, cfg: WorldModelConfig, embed_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_in = nn.Linear(cfg.stoch_dim, cfg.hidden)
        self.a_in = nn.Linear(ACTION_DIM, cfg.hidden, bias=False)
        self.in_norm = nn.Sequential(nn.LayerNorm(cfg.hidden, eps=1e-3), nn.ELU())
        self.gru = nn.GRUCell(cfg.hidden, cfg.deter)
        self.prior_net = _mlp(cfg.deter, cfg.hidden, 1, cfg.stoch_dim)
        self.post_h = nn.Linear(cfg.deter, cfg.hidden)
        self.post_e = nn.Linear(embed_dim, cfg.hidden, bias=False)
        self.post_out = nn.Sequential(nn.LayerNorm(cfg.hidden, eps=1e-3), nn.ELU(),
                                      nn.Linear(cfg.hidden, cfg.stoch_dim))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Flat logits -> (..., stoch, classes)."""
        return x.view(*x.shape[:-1], self.cfg.stoch, self.cfg.classes)

    def sample(self, logits: torch.Tensor, gumbel: torch.Tensor | None = None) -> torch.Tensor:
        """Straight-through one-hot sample, flattened to (..., stoch * classes). ``gumbel``:
        Gumbel(0, 1) noise of the logits' shape, drawn by the caller (the Gumbel-max draw
        ``argmax(log p + g)``, exactly categorical): two rollouts given the same noise draw
        the same class wherever their priors agree (common random numbers)."""
        probs = logits.float().softmax(-1)
        if gumbel is None:
            index = categorical_sample(probs)
        else:
            index = (logits.float().log_softmax(-1) + gumbel).argmax(-1)
        onehot = F.one_hot(index, self.cfg.classes).to(probs.dtype)
        return (onehot + probs - probs.detach()).flatten(-2)

    def gumbel_noise(self, *lead: int, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> torch.Tensor:
        """Gumbel(0, 1) noise (*lead, stoch, classes) for :meth:`sample`."""
        u = torch.rand(*lead, self.cfg.stoch, self.cfg.classes, generator=generator,
                       device=device)
        return -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))

    def deter_step(self, state: State, action: torch.Tensor,
                   action_in: torch.Tensor | None = None) -> torch.Tensor:
        """h_t from (h_{t-1}, z_{t-1}, a_{t-1}); ``action_in``: ``a_in(action)`` computed
        beforehand (a sequence's in one matmul)."""
        a = self.a_in(action) if action_in is None else action_in
        return self.gru(self.in_norm(self.z_in(state.z) + a), state.h)

    def prior(self, h: torch.Tensor) -> torch.Tensor:
        """Prior logits (..., stoch, classes)."""
        return self.logits(self.prior_net(h))

    def posterior(self, h: torch.Tensor, embed: torch.Tensor,
                  embed_in: torch.Tensor | None = None) -> torch.Tensor:
        """Posterior logits (..., stoch, classes); ``embed_in``: ``post_e(embed)`` computed
        beforehand (a sequence's in one matmul)."""
        e = self.post_e(embed) if embed_in is None else embed_in
        return self.logits(self.post_out(self.post_h(h) + e))


def categorical_sample(probs: torch.Tensor) -> torch.Tensor:
    """Class indices (...) drawn from ``probs`` (..., classes) by inverting the cumulative
    distribution: one uniform number per variable, where ``torch.multinomial`` draws an
    exponential for every class -- 12x faster draws, a 1.14x (state) / 1.17x (cpu) faster agent
    update (docs/perf_s19/draw_bench.py). Rows need not sum to exactly 1; a class of
    probability 0 is never drawn. Reverted once for failing the end-to-end learning test; that
    test sat at its threshold for any draw, and at its robust size both draws learn alike
    (docs/agents.md, "The end-to-end learning test made robust")."""
    cdf = probs.cumsum(-1)
    u = torch.rand_like(cdf[..., -1:]) * cdf[..., -1:]
    return (cdf <= u).sum(-1).clamp_(max=probs.shape[-1] - 1)


def kl_categorical(lhs: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """KL(lhs || rhs) of categorical logits (..., stoch, classes), summed over ``stoch``."""
    lp, rp = lhs.float().log_softmax(-1), rhs.float().log_softmax(-1)
    return (lp.exp() * (lp - rp)).sum(-1).sum(-1)


def balanced_kl(post: torch.Tensor, prior: torch.Tensor, balance: float,
                free_nats: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """KL balancing: balance * KL(sg(q) || p) + (1 - balance) * KL(q || sg(p)).

    Returns (balanced loss, KL(q||sg p), KL(sg q||p)), each (...,). ``free_nats`` clamps each
    term from below (official: 0).
    """
    kl_post = kl_categorical(post, prior.detach())
    kl_prior = kl_categorical(post.detach(), prior)
    if free_nats > 0:
        kl_post = kl_post.clamp(min=free_nats)
        kl_prior = kl_prior.clamp(min=free_nats)
    return balance * kl_prior + (1 - balance) * kl_post, kl_post, kl_prior


class WorldModel(nn.Module):
    """Encoders, RSSM and decoders, plus the normalisation of vector observations."""

    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.obs_mode == "vision":
            self.encoders = nn.ModuleDict({c: ConvEncoder(cfg.cnn_depth) for c in CAMERAS})
            self.fuse = nn.Sequential(nn.Linear(2 * self.encoders[CAMERAS[0]].out_dim,
                                                cfg.embed),
                                      nn.LayerNorm(cfg.embed, eps=1e-3), nn.ELU())
            embed_dim = cfg.embed + (ROBOT_OBS_DIM if cfg.use_proprio else 0)
            self.dec_in = nn.Linear(cfg.feat_dim, 32 * cfg.cnn_depth)   # shared by both cameras
            self.decoders = nn.ModuleDict({c: ConvDecoder(cfg.cnn_depth) for c in CAMERAS})
        else:
            vec = ROBOT_OBS_DIM + SCENE_OBS_DIM
            self.state_encoder = _mlp(vec, cfg.mlp_units, cfg.mlp_layers)
            embed_dim = cfg.mlp_units
            self.state_decoder = _mlp(cfg.feat_dim, cfg.mlp_units, cfg.mlp_layers, vec)
        self.rssm = RSSM(cfg, embed_dim)
        self.register_buffer("robot_mean", torch.zeros(ROBOT_OBS_DIM))
        self.register_buffer("robot_std", torch.ones(ROBOT_OBS_DIM))
        self.register_buffer("scene_mean", torch.zeros(SCENE_OBS_DIM))
        self.register_buffer("scene_std", torch.ones(SCENE_OBS_DIM))
        # on the model's device (no copy from the host inside a step: CUDA graph capture);
        # not persistent: a constant, not part of checkpoints
        self.register_buffer("resolution_units", torch.as_tensor(RESOLUTION_UNITS),
                             persistent=False)

    # --- normalisation -----------------------------------------------------------------------
    def set_normalization(self, stats: dict) -> None:
        """Use ``{"robot_obs": {"mean", "std"}, "scene_obs": {...}}`` (e.g. statistics.yaml).

        Standard deviations are floored at MIN_STD: rarely-moving dimensions (a block's height
        has std 2 mm; lifting it 10 cm would read as 40 standard deviations) would dominate.
        """
        for key, prefix in (("robot_obs", "robot"), ("scene_obs", "scene")):
            if key in stats:
                getattr(self, f"{prefix}_mean").copy_(torch.as_tensor(
                    np.asarray(stats[key]["mean"], np.float32)))
                std = np.asarray(stats[key]["std"], np.float32)
                getattr(self, f"{prefix}_std").copy_(torch.as_tensor(np.maximum(std, MIN_STD)))

    def normalization(self) -> dict:
        """The normalisation statistics as JSON-serialisable lists."""
        return {"robot_obs": {"mean": self.robot_mean.tolist(), "std": self.robot_std.tolist()},
                "scene_obs": {"mean": self.scene_mean.tolist(), "std": self.scene_std.tolist()}}

    def recon_weight(self) -> torch.Tensor | float:
        """State mode: data std / decoder std per dimension, multiplying the z-scored error
        (1 = unit variance in z-scores; ``world_model.state_resolution``)."""
        if self.cfg.state_resolution <= 0:
            return 1.0
        sigma = self.cfg.state_resolution * self.resolution_units
        return torch.cat([self.robot_std, self.scene_std]) / sigma

    def vector_targets(self, obs: dict) -> torch.Tensor:
        """Normalised concat(robot_obs, scene_obs) (state mode)."""
        robot = (canonical_robot_obs(obs["robot_obs"]) - self.robot_mean) / self.robot_std
        scene = obs["scene_obs"]
        if self.cfg.canonical_scene:
            scene = canonical_scene_obs(scene)
        scene = (scene - self.scene_mean) / self.scene_std
        return torch.cat([robot, scene], -1)

    @staticmethod
    def image_targets(image: torch.Tensor) -> torch.Tensor:
        """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [-1, 1]."""
        return image.float().mul(2.0 / 255.0).sub(1.0).movedim(-1, -3)

    # --- model -------------------------------------------------------------------------------
    def embed(self, obs: dict) -> torch.Tensor:
        """Observation embedding e_t for (B, T, ...) observations -> (B, T, embed)."""
        if self.cfg.obs_mode == "state":
            return self.state_encoder(self.vector_targets(obs))
        lead = obs[CAMERAS[0]].shape[:-3]
        parts = [self.encoders[c](self.image_targets(obs[c]).reshape(-1, 3, *obs[c].shape[-3:-1]))
                 for c in CAMERAS]
        e = self.fuse(torch.cat(parts, -1)).view(*lead, -1)
        if self.cfg.use_proprio:
            robot = (canonical_robot_obs(obs["robot_obs"]) - self.robot_mean) / self.robot_std
            e = torch.cat([e, robot], -1)
        return e

    def initial(self, batch: int) -> State:
        """The reset state (zeros, as the official reset mask produces)."""
        device = self.robot_mean.device
        return State(torch.zeros(batch, self.cfg.deter, device=device),
                     torch.zeros(batch, self.cfg.stoch_dim, device=device))

    def observe(self, state: State, obs: dict, prev_action: torch.Tensor,
                is_first: torch.Tensor, prior: bool = True) -> tuple[State, torch.Tensor, dict]:
        """Filter a sequence: obs values (B, T, ...), prev_action (B, T, 7), is_first (B, T).

        Returns the last state, features (B, T, feat_dim) and ``{"post", "prior"}`` logits
        (``prior=False``: no prior, which only the loss needs -- the control-time filter).
        A true ``is_first`` zeroes the carried state before that step.
        """
        embed = self.embed(obs)
        # the step-independent input projections of the whole sequence, in one matmul each
        embed_in, action_in = self.rssm.post_e(embed), self.rssm.a_in(prev_action)
        keeps = (~is_first).float()[..., None]
        posts, hs, zs = [], [], []
        for t in range(embed.shape[1]):
            keep = keeps[:, t]
            state = State(state.h * keep, state.z * keep)
            h = self.rssm.deter_step(state, prev_action[:, t], action_in[:, t])
            post = self.rssm.posterior(h, embed[:, t], embed_in[:, t])
            z = self.rssm.sample(post)
            state = State(h, z)
            posts.append(post)
            hs.append(h)
            zs.append(z)
        h, z = torch.stack(hs, 1), torch.stack(zs, 1)
        logits = {"post": torch.stack(posts, 1)}
        if prior:
            logits["prior"] = self.rssm.prior(h)   # in one batch from the stack of h's
        return state, torch.cat([h, z], -1), logits

    def start(self, obs: dict, warmup: int | None = None) -> tuple[State, torch.Tensor]:
        """The filter's first step after a reset on observations (B, 1, ...): one posterior
        step from the reset state with the zero previous action, then ``warmup`` (default
        ``cfg.filter_warmup``) more on the same observation with the 'hold still' action (zero
        deltas, the gripper as observed). Returns the state and its features (B, feat_dim).
        The policy's first step and the featurizer's history-free latents both use this."""
        warmup = self.cfg.filter_warmup if warmup is None else warmup
        b = obs["robot_obs"].shape[0]
        device = self.robot_mean.device
        zero = torch.tensor(ZERO_ACTION, device=device).expand(b, 1, -1)
        first = torch.ones(b, 1, dtype=torch.bool, device=device)
        state, feat, _ = self.observe(self.initial(b), obs, zero, first, prior=False)
        if warmup:
            hold = torch.zeros(b, 1, len(ZERO_ACTION), device=device)
            hold[..., -1] = torch.where(obs["robot_obs"][:, :1, 14] >= 0, 1.0, -1.0)
            for _ in range(warmup):
                state, feat, _ = self.observe(state, obs, hold, ~first, prior=False)
        return state, feat[:, 0]

    def img_step(self, state: State, action: torch.Tensor,
                 gumbel: torch.Tensor | None = None) -> State:
        """One imagined step: GRU, then z sampled from the prior (with the given Gumbel
        noise (B, stoch, classes), else a fresh draw)."""
        h = self.rssm.deter_step(state, action)
        return State(h, self.rssm.sample(self.rssm.prior(h), gumbel))

    def imagine(self, state: State,
                actions: torch.Tensor | Callable[[State], torch.Tensor],
                horizon: int | None = None, gumbel: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, list[State]]:
        """Roll out the prior from ``state``: ``actions`` (B, H, 7) or a policy state -> action;
        ``gumbel`` (B, >= H, stoch, classes): the draws' noise (:meth:`RSSM.sample`).

        Returns features (B, H, feat_dim) of the states after each action and the states.
        """
        if callable(actions):
            if horizon is None:
                raise ValueError("imagine with a policy needs a horizon")
            steps = horizon
        else:
            steps = actions.shape[1] if horizon is None else horizon
        states = []
        for t in range(steps):
            action = actions(state) if callable(actions) else actions[:, t]
            state = self.img_step(state, action, None if gumbel is None else gumbel[:, t])
            states.append(state)
        return torch.stack([s.feat for s in states], 1), states

    def decode(self, feat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstructions: images (..., 3, 64, 64) in [-1, 1] per camera, or the normalised
        state vector (..., 39)."""
        if self.cfg.obs_mode == "state":
            return {"state": self.state_decoder(feat)}
        lead = feat.shape[:-1]
        x = self.dec_in(feat).reshape(-1, 32 * self.cfg.cnn_depth)
        return {c: self.decoders[c](x).view(*lead, 3, 64, 64) for c in CAMERAS}

    def decode_state(self, feat: torch.Tensor) -> torch.Tensor:
        """State mode: the reconstruction of concat(robot_obs, scene_obs) (..., 39) in
        observation units (canonical angles), the decoder's output un-normalised."""
        return self.state_units(self.decode(feat)["state"])

    def state_units(self, state: torch.Tensor) -> torch.Tensor:
        """A normalised state vector (..., 39) in observation units (canonical angles)."""
        std = torch.cat([self.robot_std, self.scene_std])
        mean = torch.cat([self.robot_mean, self.scene_mean])
        return state * std + mean

    def forward(self, obs: dict, prev_action: torch.Tensor, is_first: torch.Tensor,
                state: State | None = None, overshoot: int = 0,
                overshoot_scale: float = 1.0, item: bool = True
                ) -> tuple[torch.Tensor, dict, State]:
        """The training loss (so that DistributedDataParallel can wrap the model)."""
        return self.loss(obs, prev_action, is_first, state, overshoot, overshoot_scale, item)

    def loss(self, obs: dict, prev_action: torch.Tensor, is_first: torch.Tensor,
             state: State | None = None, overshoot: int = 0,
             overshoot_scale: float = 1.0, item: bool = True
             ) -> tuple[torch.Tensor, dict, State]:
        """Eq. 2: reconstruction NLL (unit-variance Gaussian) + beta * balanced KL, plus
        ``overshoot_scale`` times the multi-step term of :meth:`overshooting` when
        ``overshoot`` > 0.

        Returns the loss (mean over B x T), metrics and the last state (detached). The
        metrics are floats, or with ``item=False`` detached 0-d tensors: no wait for the
        device inside the step (what a CUDA graph capture needs, lumos_core/cuda_graph.py).
        """
        batch = prev_action.shape[0]
        state = self.initial(batch) if state is None else state
        last, feat, dists = self.observe(state, obs, prev_action, is_first)
        recon = self.decode(feat)
        if self.cfg.obs_mode == "state":
            err = (recon["state"] - self.vector_targets(obs)) * self.recon_weight()
            nll = 0.5 * err.pow(2).sum(-1)
        else:
            nll = sum(0.5 * (recon[c].float() - self.image_targets(obs[c])).pow(2)
                      .sum((-3, -2, -1)) for c in CAMERAS)
        kl, kl_post, kl_prior = balanced_kl(dists["post"], dists["prior"], self.cfg.kl_balance,
                                            self.cfg.free_nats)
        loss = (self.cfg.image_scale * nll + self.cfg.kl_scale * kl).mean()
        metrics = {"recon_nll": nll.mean(), "kl_post": kl_post.mean(),
                   "kl_prior": kl_prior.mean(), "prior_entropy": _entropy(dists["prior"]).mean(),
                   "post_entropy": _entropy(dists["post"]).mean()}
        if overshoot > 0:
            over, over_metrics = self.overshooting(feat, dists["post"], obs, prev_action,
                                                   is_first, overshoot, item=False)
            loss = loss + overshoot_scale * over
            metrics.update(over_metrics)
        metrics["loss"] = loss
        metrics = {k: v.detach() for k, v in metrics.items()}
        return loss, scalars(metrics) if item else metrics, last.detach()

    def overshooting(self, feat: torch.Tensor, post: torch.Tensor, obs: dict,
                     prev_action: torch.Tensor, is_first: torch.Tensor,
                     steps: int, item: bool = True) -> tuple[torch.Tensor, dict]:
        """Multi-step prediction (latent overshooting, PlaNet Sec. 4): from every filtered
        state s_t of the windows, the prior is rolled open loop through the recorded actions
        for ``steps`` steps, and each predicted prior p(z_{t+k} | s_t, a_{t:t+k}) is pulled
        towards the filter's posterior q(z_{t+k}) (held fixed): KL(sg(q) || p), weighted by
        ``kl_scale``. In state mode the decoder also reconstructs the observation from each
        open-loop state (as imagination and the DITTO reward read it). Imagination runs open
        loop for the agent's whole horizon; the one-step loss of eq. 2 alone leaves such
        rollouts free to drift from the states the expert's actions reach, which the DITTO
        reward exploits (docs/agents.md, `lumos ladder ditto-optimum`).

        ``feat`` (B, T, feat_dim) and ``post`` (B, T, stoch, classes) come from :meth:`observe`
        on the same windows. Steps across an ``is_first`` (a new episode) are left out.
        Returns the mean term over the valid (start, step) pairs and its metrics (floats, or
        detached tensors with ``item=False``)."""
        batch, length = feat.shape[:2]
        steps = min(steps, length - 1)
        starts = length - steps
        deter = self.cfg.deter
        state = State(feat[:, :starts, :deter].reshape(batch * starts, deter),
                      feat[:, :starts, deter:].reshape(batch * starts, -1))
        targets = self.vector_targets(obs) if self.cfg.obs_mode == "state" else None
        valid = torch.ones(batch, starts, device=feat.device)
        kl_sum = nll_sum = count = 0.0
        for k in range(1, steps + 1):
            span = slice(k, k + starts)
            valid = valid * (~is_first[:, span]).float()
            h = self.rssm.deter_step(state, prev_action[:, span].reshape(batch * starts, -1))
            prior = self.rssm.prior(h)
            state = State(h, self.rssm.sample(prior))
            kl = kl_categorical(post[:, span].reshape(batch * starts, *post.shape[2:]).detach(),
                                prior).view(batch, starts)
            kl_sum = kl_sum + (kl * valid).sum()
            if targets is not None:
                err = (self.decode(state.feat)["state"].view(batch, starts, -1)
                       - targets[:, span]) * self.recon_weight()
                nll_sum = nll_sum + (0.5 * err.pow(2).sum(-1) * valid).sum()
            count = count + valid.sum()
        count = count.clamp(min=1.0)
        term = (self.cfg.kl_scale * kl_sum + self.cfg.image_scale * nll_sum) / count
        metrics = {"overshoot_kl": kl_sum.detach() / count}
        if targets is not None:
            metrics["overshoot_nll"] = nll_sum.detach() / count
        return term, scalars(metrics) if item else metrics


def scalars(metrics: dict[str, torch.Tensor]) -> dict[str, float]:
    """0-d tensors -> floats, with one transfer from the device (one wait, not one per
    metric)."""
    if not metrics:
        return {}
    values = torch.stack([v.detach().float().reshape(()) for v in metrics.values()]).tolist()
    return dict(zip(metrics, values))


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    logp = logits.float().log_softmax(-1)
    return -(logp.exp() * logp).sum(-1).sum(-1)


def to_torch(batch: dict, device: torch.device | str = "cpu") -> dict:
    """numpy batch from :class:`~lumos_core.data.dataset.PlayData` -> tensors (images stay
    uint8, vectors float32)."""
    out = {}
    for key, value in batch.items():
        tensor = torch.from_numpy(np.ascontiguousarray(value))
        out[key] = tensor.to(device)
    return out


def previous_actions(rel_actions: torch.Tensor, is_first: torch.Tensor) -> torch.Tensor:
    """a_{t-1} for each step of (B, T, 7) windows: the window's own previous action, and the
    zero action (gripper open) at the first step and wherever ``is_first``."""
    zero = torch.tensor(ZERO_ACTION, dtype=rel_actions.dtype, device=rel_actions.device)
    prev = torch.cat([zero.expand(rel_actions.shape[0], 1, ACTION_DIM), rel_actions[:, :-1]], 1)
    return torch.where(is_first[..., None], zero, prev)


def parameter_count(module: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in module.parameters())
