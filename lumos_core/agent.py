"""LUMOS behaviour learning in the world model's latent space (paper Sec. IV-B, eq. 3-6).

Networks: a per-frame code network over latent features; plan recognition (a transformer over
the expert window) and plan proposal (from the first latent and the goal), plans being
``plan_stoch`` categoricals of ``plan_classes`` classes with straight-through samples; goal
encoders for language (MiniLM embedding) and images (the window's final latent); a
tanh-Gaussian actor and a critic (plus a hard-copied target critic) on (latent, goal, plan); a
CLIP-style projection for language-latent alignment.

Losses, per batch of expert windows (image-goal and language-goal windows alike):

- imagination: H steps in the frozen world model from the window's first latent, actions from
  the actor, goal and plan held fixed; gradients flow through the world model's dynamics;
- DITTO intrinsic reward (eq. 3), r_k = <s^pi_{k+1}, s^E_{k+1}> / max(|s^pi|, |s^E|)^2, on the
  latent part selected by ``reward_latent`` ('h' as the official code, 'hz' as the paper);
- lambda-returns (gamma, lambda) bootstrapped with the target critic; critic regression to
  sg(V^lambda) (eq. 5); actor loss -mean(V^lambda) + alpha1 KL_plan + alpha2 L_align (eq. 6).

Ablations (paper Table I) are switches: ``use_ditto=False`` replaces the intrinsic reward by
behaviour cloning (MSE on expert actions), ``use_plan=False`` removes recognition/proposal,
``use_alignment=False`` removes the contrastive loss. Baselines: ``method='mcil'`` (latent plans
+ BC) and ``method='gcbc'`` (goal-conditioned BC, no plans); both train on the expert latents
without imagination.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from lumos_core.config import AgentConfig, WorldModelConfig
from lumos_core.data.calvin import BLOCK_YAW_INDICES
from lumos_core.world_model import (ROBOT_OBS_DIM, SCENE_OBS_DIM, State, WorldModel,
                                    balanced_kl, categorical_sample)

#: the state decoder's output: normalised concat(robot_obs, scene_obs)
STATE_DIM = ROBOT_OBS_DIM + SCENE_OBS_DIM

#: agent.relative_inputs: per block its position relative to the TCP (3 x 3), per pair of
#: blocks their offset (3 x 3), per block sin/cos of twice its yaw against the gripper's (3 x 2)
GEOMETRY_DIM = 24
#: metres -> the geometry's units (decimetres: a block 10 cm away reads as 1)
GEOMETRY_SCALE = 10.0
_BLOCK_PAIRS = ((0, 1), (0, 2), (1, 2))

LANG_DIM = 384
ACTION_DIM = 7


def _mlp(inp: int, units: int, layers: int, out: int, norm: bool = True,
         act: type[nn.Module] = nn.ELU) -> nn.Sequential:
    mods: list[nn.Module] = []
    for _ in range(layers):
        mods += [nn.Linear(inp, units)] + ([nn.LayerNorm(units, eps=1e-3)] if norm else [])
        mods.append(act())
        inp = units
    mods.append(nn.Linear(inp, out))
    return nn.Sequential(*mods)


def intrinsic_reward(imagined: torch.Tensor, expert: torch.Tensor) -> torch.Tensor:
    """DITTO reward (eq. 3): <x, y> / max(|x|, |y|)^2 over the last dimension."""
    dot = (imagined * expert).sum(-1)
    norm = torch.maximum(imagined.norm(dim=-1), expert.norm(dim=-1))
    return dot / norm.pow(2).clamp(min=1e-8)


def binary_gripper(action: torch.Tensor) -> torch.Tensor:
    """The gripper dimension (index 6) at +-1 as executed (> 0: open), with the continuous
    value's gradient (straight-through); the arm dimensions unchanged."""
    grip = action[..., 6:]
    binary = torch.where(grip > 0, 1.0, -1.0).to(grip.dtype)
    return torch.cat([action[..., :6], binary + grip - grip.detach()], -1)


def lambda_return(rewards: torch.Tensor, values: torch.Tensor, gamma: float,
                  lambda_: float) -> torch.Tensor:
    """V^lambda over time (dim 1): R_{H-1} = v_{H-1};
    R_k = r_k + gamma * ((1 - lambda) * v_{k+1} + lambda * R_{k+1})."""
    steps = rewards.shape[1]
    returns = [values[:, -1]]
    for k in range(steps - 2, -1, -1):
        returns.append(rewards[:, k] + gamma * ((1 - lambda_) * values[:, k + 1]
                                                + lambda_ * returns[-1]))
    return torch.stack(returns[::-1], 1)


class PlanRecognition(nn.Module):
    """Transformer over the window's codes -> pooled sequence feature and plan logits.

    Unlike the official code, padded frames are masked out of attention and pooling.
    """

    def __init__(self, cfg: AgentConfig) -> None:
        super().__init__()
        self.pos = nn.Embedding(cfg.max_window, cfg.code_dim)
        layer = nn.TransformerEncoderLayer(cfg.code_dim, cfg.recognition_heads,
                                           cfg.recognition_ff, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.recognition_layers,
                                             enable_nested_tensor=False)
        self.proj = nn.Linear(cfg.code_dim, cfg.recognition_features)
        self.head = nn.Linear(cfg.recognition_features, cfg.plan_dim)

    def forward(self, codes: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor,
                                                                        torch.Tensor]:
        """codes (B, T, code), mask (B, T) true for real frames -> (logits, seq_feat)."""
        t = codes.shape[1]
        x = codes + self.pos(torch.arange(t, device=codes.device))[None]
        x = self.proj(self.encoder(x, src_key_padding_mask=~mask))
        weights = mask.float()[..., None]
        seq_feat = (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.head(seq_feat), seq_feat


def state_decoder_of(world_model: WorldModel) -> nn.Module | None:
    """The (frozen) state decoder of a state-mode world model, else None."""
    return getattr(world_model, "state_decoder", None)


def state_geometry(state: torch.Tensor) -> torch.Tensor:
    """The geometry of a play-table state (..., 39) in observation units (robot_obs then
    scene_obs, CALVIN's layout): each block's position relative to the TCP, the blocks'
    offsets to each other (both in decimetres) and sin/cos of twice each block's yaw minus
    the TCP's (a box looks, and is grasped, the same after a half-turn) -> (..., 24).

    A block task's target is a difference of positions picked out by the instruction; an MLP
    given only absolute coordinates must form that difference under the goal's gating."""
    tcp, tcp_yaw = state[..., 0:3], state[..., 5:6]
    scene = state[..., ROBOT_OBS_DIM:]
    blocks = [scene[..., 6 + 6 * i:9 + 6 * i] for i in range(3)]
    parts = [(block - tcp) * GEOMETRY_SCALE for block in blocks]
    parts += [(blocks[i] - blocks[j]) * GEOMETRY_SCALE for i, j in _BLOCK_PAIRS]
    for i in BLOCK_YAW_INDICES:
        turn = 2 * (scene[..., i:i + 1] - tcp_yaw)
        parts += [torch.sin(turn), torch.cos(turn)]
    return torch.cat(parts, -1)


class BehaviourModel(nn.Module):
    """All trainable agent networks (the world model is kept outside and frozen)."""

    def __init__(self, cfg: AgentConfig, wm_cfg: WorldModelConfig,
                 state_decoder: nn.Module | None = None,
                 state_units: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        feat = wm_cfg.feat_dim
        decoded = cfg.actor_latent in ("decoded", "hz+decoded")
        if decoded and (wm_cfg.obs_mode != "state" or state_decoder is None):
            raise ValueError(f"agent.actor_latent={cfg.actor_latent!r} reads the latent through "
                             "the state decoder of a state-mode world model; this world model "
                             f"is in {wm_cfg.obs_mode!r} mode (use 'hz' or 'h')")
        if cfg.relative_inputs and not decoded:
            raise ValueError("agent.relative_inputs=true computes the geometry from the decoded "
                             "state: it needs agent.actor_latent 'decoded' or 'hz+decoded', not "
                             f"{cfg.actor_latent!r}")
        if cfg.relative_inputs and state_units is None:
            raise ValueError("agent.relative_inputs=true needs the world model's state units "
                             "(WorldModel.state_units) to read positions in metres")
        # the world model's normalisation, mapping the decoder's output to observation units
        object.__setattr__(self, "_state_units", state_units)
        if (cfg.reward_latent == "decoded" and cfg.method == "lumos" and cfg.use_ditto
                and wm_cfg.obs_mode != "state"):
            raise ValueError("agent.reward_latent='decoded' compares the state decoder's "
                             "reconstructions: it needs a state-mode world model, this one is "
                             f"in {wm_cfg.obs_mode!r} mode (use 'h' or 'hz')")
        # the frozen world model's decoder, held outside this module's parameters and state
        # (the world model is saved and moved on its own)
        object.__setattr__(self, "_state_decoder", state_decoder if decoded else None)
        self.code = nn.Sequential(nn.Linear(feat, cfg.code_units), nn.ReLU(),
                                  nn.Linear(cfg.code_units, cfg.code_dim),
                                  nn.LayerNorm(cfg.code_dim))
        self.lang_goal = nn.Sequential(_mlp(LANG_DIM, cfg.goal_units, 2, cfg.goal_dim, False,
                                            nn.ReLU), nn.LayerNorm(cfg.goal_dim))
        self.vis_goal = nn.Sequential(_mlp(cfg.code_dim, cfg.goal_units, 2, cfg.goal_dim, False,
                                           nn.ReLU), nn.LayerNorm(cfg.goal_dim))
        plan = cfg.plan_dim if self.uses_plan else 0
        if self.uses_plan:
            self.recognition = PlanRecognition(cfg)
            self.proposal = _mlp(cfg.code_dim + cfg.goal_dim, cfg.proposal_units,
                                 cfg.proposal_layers, cfg.plan_dim, False, nn.ReLU)
        self.deter = wm_cfg.deter
        seen = {"h": wm_cfg.deter, "hz": feat, "decoded": STATE_DIM,
                "hz+decoded": feat + STATE_DIM}[cfg.actor_latent]
        seen += GEOMETRY_DIM if cfg.relative_inputs else 0
        inp = seen + cfg.goal_dim + plan
        self.actor = _mlp(inp, cfg.actor_units, cfg.actor_layers, 2 * ACTION_DIM)
        if self.imagines:
            self.critic = _mlp(inp, cfg.critic_units, cfg.critic_layers, 1)
            self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
            # statistics of the reward latent (agent.reward_norm='standardize'); set by the
            # trainer from the training features, saved with the policy
            reward_dim = {"h": wm_cfg.deter, "hz": feat,
                          "decoded": STATE_DIM}[cfg.reward_latent]
            self.register_buffer("reward_mean", torch.zeros(reward_dim))
            self.register_buffer("reward_std", torch.ones(reward_dim))
            # running 5-95 % range of the lambda-returns (agent.return_norm='percentile')
            self.register_buffer("return_scale", torch.zeros(()))
        if self.aligns:
            self.align_seq = nn.Sequential(nn.Linear(cfg.recognition_features, 128), nn.ReLU(),
                                           nn.Linear(128, cfg.goal_dim))
            self.align_lang = nn.Sequential(nn.Linear(cfg.goal_dim, 128), nn.ReLU(),
                                            nn.Linear(128, cfg.goal_dim))
            self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def load_weights(self, state: dict) -> None:
        """``load_state_dict`` (strict) that also accepts checkpoints written before the
        reward-latent statistics or the return scale existed: those buffers keep their neutral
        values (0 / 1 / 0), which is exactly what such a policy was trained with."""
        state = dict(state)
        for key in ("reward_mean", "reward_std", "return_scale"):
            if key not in state and key in self.state_dict():
                state[key] = self.state_dict()[key]
        self.load_state_dict(state)

    # which components this configuration has
    @property
    def uses_plan(self) -> bool:
        """Plan recognition/proposal present (lumos with use_plan, mcil)."""
        return self.cfg.method == "mcil" or (self.cfg.method == "lumos" and self.cfg.use_plan)

    @property
    def imagines(self) -> bool:
        """Actor-critic in imagination with the DITTO reward."""
        return self.cfg.imagines

    @property
    def aligns(self) -> bool:
        """Contrastive language-latent alignment (needs plan recognition features)."""
        return self.cfg.method == "lumos" and self.cfg.use_alignment and self.uses_plan

    def actor_params(self) -> list[nn.Parameter]:
        """Everything the policy loss updates (all but the critics)."""
        skip = {id(p) for name in ("critic", "target_critic") if hasattr(self, name)
                for p in getattr(self, name).parameters()}
        return [p for p in self.parameters() if id(p) not in skip]

    # networks
    def seen(self, feat: torch.Tensor) -> torch.Tensor:
        """What the actor and critic see of the latent s = (h, z) (``actor_latent``): s, h,
        the frozen state decoder's reading of s (normalised state units) or s and that."""
        mode = self.cfg.actor_latent
        if mode == "h":
            return feat[..., :self.deter]
        if mode == "hz":
            return feat
        decoded = self._state_decoder(feat)
        parts = [decoded] if mode == "decoded" else [feat, decoded]
        if self.cfg.relative_inputs:
            parts.append(state_geometry(self._state_units(decoded)))
        return parts[0] if len(parts) == 1 else torch.cat(parts, -1)

    def condition(self, net: nn.Sequential, goal: torch.Tensor,
                  plan: torch.Tensor | None) -> torch.Tensor:
        """The goal's (and plan's) part of the first layer of the actor or a critic, with its
        bias: (..., units). The networks see cat(latent, goal, plan); their first layer is
        computed as W_latent latent + (W_goal goal + W_plan plan + b) -- the same function
        with the same parameters, but the second term is computed once per rollout (goal and
        plan are constant while the latent moves) and no input is ever concatenated with
        the large latent (the concatenations took 11 % of a LUMOS update)."""
        first = net[0]
        cond = goal if plan is None else torch.cat([goal, plan], -1)
        return F.linear(cond, first.weight[:, first.in_features - cond.shape[-1]:], first.bias)

    def _conditioned(self, net: nn.Sequential, feat: torch.Tensor,
                     cond: torch.Tensor) -> torch.Tensor:
        """``net(cat(seen(feat), goal, plan))`` from :meth:`condition`'s ``cond``, which
        broadcasts over the latent's extra leading dimensions (e.g. (B, U) over (B, H, F))."""
        seen = self.seen(feat)
        x = F.linear(seen, net[0].weight[:, :seen.shape[-1]])
        while cond.dim() < x.dim():
            cond = cond.unsqueeze(-2)
        return net[1:](x + cond)

    def action_dist(self, feat: torch.Tensor, goal: torch.Tensor | None,
                    plan: torch.Tensor | None, cond: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of the pre-tanh Gaussian; log-std squashed into [-5, 2]. ``cond``:
        ``condition(actor, goal, plan)`` computed beforehand (then goal and plan are unused)."""
        if cond is None:
            cond = self.condition(self.actor, goal, plan)
        mean, raw = self._conditioned(self.actor, feat, cond).chunk(2, -1)
        return mean, (-5 + 3.5 * (torch.tanh(raw) + 1)).exp()

    def act(self, feat, goal, plan, sample: bool = True,
            cond: torch.Tensor | None = None) -> torch.Tensor:
        """tanh(mean + std * eps), or tanh(mean)."""
        mean, std = self.action_dist(feat, goal, plan, cond)
        return torch.tanh(mean + std * torch.randn_like(std) if sample else mean)

    def value(self, net: nn.Module, feat, goal, plan) -> torch.Tensor:
        """Critic output (..., ); goal and plan may lack the latent's time dimension."""
        return self._conditioned(net, feat, self.condition(net, goal, plan)).squeeze(-1)

    def plan_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Flat plan logits -> (..., plan_stoch, plan_classes)."""
        return logits.view(*logits.shape[:-1], self.cfg.plan_stoch, self.cfg.plan_classes)

    def sample_plan(self, logits: torch.Tensor, straight_through: bool = True) -> torch.Tensor:
        """The plan the actor sees, flattened: a one-hot sample (straight-through gradients
        when training) or, with ``agent.plan_input='probs'``, the probabilities themselves."""
        probs = self.plan_logits(logits).softmax(-1)
        if self.cfg.plan_input == "probs":
            return probs.flatten(-2)
        index = categorical_sample(probs)
        onehot = F.one_hot(index, self.cfg.plan_classes).to(probs.dtype)
        if straight_through:
            onehot = onehot + probs - probs.detach()
        return onehot.flatten(-2)

    def goal(self, codes: torch.Tensor, last: torch.Tensor, lang: torch.Tensor,
             is_lang: torch.Tensor) -> torch.Tensor:
        """Language goal where ``is_lang``, else the visual goal of the final real frame."""
        vis = self.vis_goal(codes[torch.arange(len(codes), device=codes.device), last])
        return torch.where(is_lang[:, None], self.lang_goal(lang), vis)


def clip_loss(seq: torch.Tensor, goal: torch.Tensor, logit_scale: torch.Tensor,
              task: torch.Tensor | None = None, select: torch.Tensor | None = None
              ) -> torch.Tensor:
    """Symmetric InfoNCE over in-batch pairs (CLIP); with ``task`` (B,) task ids, the other
    windows of a pair's task are left out of its negatives (each pair's own logit stays).

    ``select`` (B,) bool: only these pairs take part (the language windows of a batch); the
    others are masked out of every row and column instead of indexed away, so that the shapes
    do not depend on the data (one graph under ``torch.compile``, no graph break). A pair left
    out keeps only its own logit: its loss is exactly 0 with a zero gradient. The result is the
    mean over the selected pairs -- the loss of the selected sub-batch; 0 when fewer than two
    are selected (no negative to contrast with)."""
    seq, goal = F.normalize(seq, dim=-1), F.normalize(goal, dim=-1)
    logits = logit_scale.exp() * seq @ goal.t()
    target = torch.arange(len(seq), device=seq.device)
    other = target[:, None] != target[None, :]
    exclude = torch.zeros_like(other)
    if task is not None:
        exclude = exclude | (task[:, None] == task[None, :])
    if select is not None:
        exclude = exclude | ~select[:, None] | ~select[None, :]
    logits = logits.masked_fill(exclude & other, float("-inf"))
    weight = None
    if select is not None:
        # pair i is class i: class weights make cross_entropy's mean the selected pairs' (the
        # same arithmetic as the unweighted mean when all are selected); none selected: every
        # pair's loss is 0, averaged with unit weights instead of dividing by 0
        weight = select.to(logits.dtype)
        weight = torch.where(weight.sum() > 0, weight, torch.ones_like(weight))
    return 0.5 * (F.cross_entropy(logits, target, weight=weight)
                  + F.cross_entropy(logits.t(), target, weight=weight))


class LumosAgent(nn.Module):
    """Behaviour model + frozen world model; ``losses(batch)`` computes eq. 3-6."""

    def __init__(self, cfg: AgentConfig, world_model: WorldModel) -> None:
        super().__init__()
        self.cfg = cfg
        self.world_model = world_model.requires_grad_(False).eval()
        self.behaviour = BehaviourModel(cfg, world_model.cfg, state_decoder_of(world_model),
                                        world_model.state_units)

    def _split(self, feat: torch.Tensor) -> State:
        deter = self.world_model.cfg.deter
        return State(feat[..., :deter], feat[..., deter:])

    def _reward_latent(self, feat: torch.Tensor) -> torch.Tensor:
        if self.cfg.reward_latent == "decoded":
            return self.world_model.decode(feat)["state"]
        return feat[..., :self.world_model.cfg.deter] if self.cfg.reward_latent == "h" else feat

    def reward_part(self, feat: torch.Tensor) -> torch.Tensor:
        """The latent the DITTO reward compares: h, or s = (h, z); standardised per dimension
        with the training features' statistics when ``reward_norm='standardize'``."""
        x = self._reward_latent(feat)
        if self.cfg.reward_norm in ("standardize", "start"):
            b = self.behaviour
            x = (x - b.reward_mean) / b.reward_std
        return x

    def reward(self, imagined: torch.Tensor, expert: torch.Tensor,
               start: torch.Tensor) -> torch.Tensor:
        """Eq. 3 between an imagined and an expert latent (..., F); with
        ``reward_norm='start'`` both are taken relative to the window's first latent."""
        x, y = self.reward_part(imagined), self.reward_part(expert)
        if self.cfg.reward_norm == "start":
            origin = self.reward_part(start)
            x, y = x - origin, y - origin
        return intrinsic_reward(x, y)

    def reward_targets(self, feat: torch.Tensor, actions: torch.Tensor,
                       steps: int, gumbel: torch.Tensor | None = None) -> torch.Tensor:
        """The latents (B, steps, F) that the imagined states after 1..``steps`` actions from
        ``feat[:, 0]`` are rewarded for matching (``agent.reward_target``): the expert's own
        ``feat[:, 1:steps+1]``, or those of its ``actions`` executed open loop in the world
        model from the same start (no gradient; ``gumbel``: the draws' noise)."""
        if self.cfg.reward_target == "posterior":
            return feat[:, 1:steps + 1]
        with torch.no_grad():
            imagined, _ = self.world_model.imagine(self._split(feat[:, 0]),
                                                   actions[:, :steps], gumbel=gumbel)
        return imagined

    def imagination_noise(self, batch: int, steps: int, device: torch.device
                          ) -> torch.Tensor | None:
        """One Gumbel noise (batch, steps, stoch, classes) shared by the actor's rollout and
        the imagined reward target (``agent.imagine_noise='common'``), else None."""
        if self.cfg.imagine_noise != "common":
            return None
        return self.world_model.rssm.gumbel_noise(batch, steps, device=device)

    def set_reward_statistics(self, feats: torch.Tensor) -> None:
        """Mean and std (floored at 1e-2) of the reward latent over sample features (N, F)."""
        x = self._reward_latent(feats)
        self.behaviour.reward_mean.copy_(x.mean(0))
        self.behaviour.reward_std.copy_(x.std(0).clamp(min=1e-2))

    def bc_loss(self, feat: torch.Tensor, goal: torch.Tensor, plan: torch.Tensor | None,
                actions: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """The BC loss and its MSE part: MSE of tanh(actor mean) to the expert actions along
        the expert latents (real frames only); with ``agent.std_nll_scale`` plus a Gaussian
        NLL of those actions around the detached tanh(mean) under the actor's std, which
        trains the std alone."""
        mean, std = self.behaviour.action_dist(feat, goal, plan)   # (B, T, 7): broadcast
        residual = actions - torch.tanh(mean)
        mse = (residual.pow(2).mean(-1) * mask).sum() / mask.sum()
        if self.cfg.std_nll_scale <= 0:
            return mse, mse
        nll = (std.log() + 0.5 * (residual.detach() / std).pow(2)).mean(-1)
        return mse + self.cfg.std_nll_scale * (nll * mask).sum() / mask.sum(), mse

    def losses(self, batch: dict, bc_only: bool = False, critic_too: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
        """:meth:`loss_terms` with its metrics as floats."""
        policy, critic, metrics = self.loss_terms(batch, bc_only, critic_too)
        return policy, critic, {k: v.item() for k, v in metrics.items()}

    def loss_terms(self, batch: dict, bc_only: bool = False, critic_too: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
        """Policy loss, critic loss (None without imagination) and metrics; ``bc_only``
        replaces imagination by behaviour cloning (the ``bc_warmup`` phase); ``critic_too``
        with it also returns a critic loss on imagined rollouts of the current actor (no
        actor gradient: ``agent.critic_warmup_every``).

        ``batch``: ``feat`` (B, T, F) expert latents (T = max_window, padded by repeating the
        last frame), ``actions`` (B, T, 7) expert actions, ``mask`` (B, T) real frames,
        ``lang`` (B, 384) language embeddings, ``is_lang`` (B,) language-goal windows,
        ``align`` (B,) windows that enter the contrastive loss, ``task`` (B,) task ids of the
        language windows (-1 elsewhere; needed with ``agent.align_mask_same_task``).
        """
        b = self.behaviour
        cfg = self.cfg
        feat, mask = batch["feat"], batch["mask"]
        codes = b.code(feat)
        last = mask.long().sum(1) - 1
        goal = b.goal(codes, last, batch["lang"], batch["is_lang"])
        metrics: dict[str, torch.Tensor] = {}
        policy = torch.zeros((), device=feat.device)
        plan = None
        if b.uses_plan:
            rec_logits, seq_feat = b.recognition(codes, mask)
            prop_logits = b.proposal(torch.cat([codes[:, 0], goal], -1))
            plan = b.sample_plan(rec_logits)
            kl, _, _ = balanced_kl(b.plan_logits(rec_logits), b.plan_logits(prop_logits),
                                   cfg.kl_balance)
            policy = policy + cfg.kl_scale * kl.mean()
            metrics["plan_kl"] = kl.mean().detach()
        if b.aligns:
            select = batch["align"] & batch["is_lang"]
            task = None
            if cfg.align_mask_same_task:
                if "task" not in batch:
                    raise ValueError("agent.align_mask_same_task needs the batch's 'task' "
                                     "ids (WindowSampler.sample provides them)")
                task = batch["task"]
            align = None
            # agent.align_goal_grad=false: the alignment shapes the recognition features and
            # its own projections, not the goal embedding the actor reads
            lang = goal if cfg.align_goal_grad else goal.detach()
            if torch.compiler.is_compiling():
                # the pairs masked, not indexed: no data-dependent shape or branch, so the
                # compiled loss is one graph for any number of language windows (the same
                # loss; eager keeps the indexed form, bit for bit the earlier trainings')
                align = clip_loss(b.align_seq(seq_feat), b.align_lang(lang), b.logit_scale,
                                  task, select)
            elif select.sum() >= 2:
                align = clip_loss(b.align_seq(seq_feat[select]), b.align_lang(lang[select]),
                                  b.logit_scale, None if task is None else task[select])
            if align is not None:
                policy = policy + cfg.alignment_scale * align
                metrics["align"] = align.detach()
        if not b.imagines or cfg.ditto_bc_scale > 0 or bc_only:
            # behaviour cloning on the expert latents (GCBC, MCIL, the no-DITTO ablation; the
            # optional BC term of LUMOS)
            bc, mse = self.bc_loss(feat, goal, plan, batch["actions"], mask)
            metrics["bc_mse"] = mse.detach()
            if not b.imagines or bc_only:
                critic_loss = None
                if b.imagines and critic_too:
                    critic_loss, _, imag = self.imagine(feat, goal, plan, mask,
                                                        batch["actions"], critic_only=True)
                    metrics.update(imag)
                return policy + cfg.bc_scale * bc, critic_loss, metrics
            policy = policy + cfg.ditto_bc_scale * bc
        critic_loss, actor_loss, imag = self.imagine(feat, goal, plan, mask, batch["actions"])
        metrics.update(imag)
        return policy + actor_loss, critic_loss, metrics

    def imagine(self, feat: torch.Tensor, goal: torch.Tensor, plan: torch.Tensor | None,
                mask: torch.Tensor, actions: torch.Tensor, critic_only: bool = False
                ) -> tuple[torch.Tensor | None, torch.Tensor, dict]:
        """H steps from the first expert latent; DITTO rewards against
        :meth:`reward_targets` (the expert's ``actions`` (B, T, 7) are needed for
        ``reward_target='imagined'``); lambda-returns; eq. 5 and 6. ``critic_only``: the
        rollout without gradients and a zero actor loss."""
        b, cfg = self.behaviour, self.cfg
        horizon = min(cfg.horizon, feat.shape[1])
        gumbel = self.imagination_noise(feat.shape[0], horizon - 1, feat.device)
        targets = self.reward_targets(feat, actions, horizon - 1, gumbel)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not critic_only):
            state = self._split(feat[:, 0])
            feats, rewards = [state.feat], []
            cond = b.condition(b.actor, goal, plan)        # goal and plan are fixed: once
            detach = cfg.imagine_state_grad == "stop"
            for k in range(horizon - 1):
                action = self.imagined_action(state.feat.detach() if detach else state.feat,
                                              cond)
                state = self.world_model.img_step(state, action,
                                                  None if gumbel is None else gumbel[:, k])
                feats.append(state.feat)
                rewards.append(self.reward(state.feat, targets[:, k], feat[:, 0]))
            rewards.append(torch.zeros_like(rewards[0]))   # the last step gets no reward
            traj = torch.stack(feats, 1)                   # (B, H, F), s_0 .. s_{H-1}
            r = torch.stack(rewards, 1)
            if cfg.bootstrap == "none":                    # discounted reward-to-go
                returns = lambda_return(r, torch.zeros_like(r), cfg.gamma, 1.0)
            else:
                target = b.value(b.target_critic, traj, goal, plan)
                returns = lambda_return(r, target, cfg.gamma, cfg.lambda_)
        metrics = {"reward": r[:, :-1].mean().detach(), "return": returns[:, 0].mean().detach()}
        critic_loss = None
        if cfg.bootstrap == "critic":
            # the critic sees detached inputs: its loss must not backpropagate through
            # imagination
            value = b.value(b.critic, traj.detach(), goal.detach(),
                            None if plan is None else plan.detach())
            critic_loss = 0.5 * (value[:, :-1] - returns[:, :-1].detach()).pow(2).mean()
            metrics["value"] = value.mean().detach()
        if critic_only:
            actor_loss = torch.zeros((), device=feat.device)
        else:
            actor_loss = -returns[:, :-1].mean() / self._return_scale(returns[:, :-1].detach())
        return critic_loss, actor_loss, metrics

    def imagined_action(self, feat: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The actor's action in imagination at latent ``feat`` (``cond``: the actor's
        goal/plan conditioning): sampled or its mean (``agent.imagine_action``), the gripper
        at +-1 or continuous (``agent.imagine_gripper``)."""
        action = self.behaviour.act(feat, None, None, cond=cond,
                                    sample=self.cfg.imagine_action == "sample")
        return binary_gripper(action) if self.cfg.imagine_gripper == "binary" else action

    def _return_scale(self, returns: torch.Tensor) -> torch.Tensor:
        """Divisor of the actor's return objective: 1 ('none', the paper), or DreamerV3's
        max(1, S) with S a running (decay 0.99) 5-95 % percentile range of the returns
        ('percentile'), so the return gradient keeps a known size next to the BC term."""
        if self.cfg.return_norm == "none":
            return torch.ones((), device=returns.device)
        b = self.behaviour
        spread = torch.quantile(returns.flatten().float(), 0.95) - torch.quantile(
            returns.flatten().float(), 0.05)
        if self.behaviour.training:
            b.return_scale.copy_(torch.where(b.return_scale > 0,
                                             0.99 * b.return_scale + 0.01 * spread, spread))
        return b.return_scale.clamp(min=1.0)

    def update_target(self) -> None:
        """Hard copy critic -> target critic."""
        if self.behaviour.imagines:
            self.behaviour.target_critic.load_state_dict(self.behaviour.critic.state_dict())
