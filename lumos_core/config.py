"""Typed, validated configuration.

Every section is a frozen dataclass whose fields carry a docstring (``metadata["doc"]``) and,
where it matters, the allowed values (``choices``) or bounds (``low``/``high``).  The defaults
are the official LUMOS numbers (``shared/reference/lumos-official.md``); the named presets in
``config/lumos.yaml`` (``paper``, ``cpu``, ``state``, ``debug``) override them, and the CLI
overrides presets with ``--set section.key=value``.

Configs are never mutated after construction: derived sizes are properties and changes go
through :func:`replace`, which validates again.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml


class ConfigError(ValueError):
    """A configuration value, key or file is invalid; the message names it and what is allowed."""


def doc(default: Any, help: str, *, choices: tuple | None = None,
        low: float | None = None, high: float | None = None) -> Any:
    """Declare a config field with its documentation and validation rules."""
    meta = {"doc": help, "choices": choices, "low": low, "high": high}
    if isinstance(default, (list, dict)):
        raise TypeError("mutable config defaults are not allowed; use a tuple")
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Section:
    """Base class: validates every field after construction."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            _check_value(f"{self._name()}.{f.name}", value, hints[f.name], f.metadata)
        self._check()

    @classmethod
    def _name(cls) -> str:
        return getattr(cls, "SECTION", cls.__name__)

    def _check(self) -> None:
        """Cross-field checks of a section; override where needed."""


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def _check_value(key: str, value: Any, tp: Any, meta: Mapping[str, Any]) -> None:
    origin = typing.get_origin(tp)
    if origin is tuple:
        if not isinstance(value, tuple):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
        (item_tp, _) = (typing.get_args(tp) + (None,))[:2]
        for i, item in enumerate(value):
            _check_value(f"{key}[{i}]", item, item_tp, {})
    elif origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return
        inner = [a for a in args if a is not type(None)][0]
        _check_value(key, value, inner, meta)
        return
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number (float), got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
    elif tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
    elif tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed values: {allowed}")
    low, high = meta.get("low"), meta.get("high")
    if low is not None and value < low:
        raise ConfigError(f"{key}: {value!r} is too small; must be >= {low}")
    if high is not None and value > high:
        raise ConfigError(f"{key}: {value!r} is too large; must be <= {high}")


@dataclass(frozen=True)
class DataConfig(Section):
    """Where the play data lives and how frames are presented to the models."""

    SECTION = "data"
    dataset: str = doc("data/sim_play",
                       "Root of a CALVIN-format dataset (training/ and validation/).")
    image_size: int = doc(64, "Side of the square images the models see; frames are resized with "
                              "INTER_AREA (CALVIN: static 200, gripper 84).", low=16, high=512)
    cameras: tuple[str, ...] = doc(("rgb_static", "rgb_gripper"),
                                   "Camera keys of the dataset used in vision mode.")
    num_workers: int = doc(0, "Data-loading worker processes (0 = load in the training process).",
                           low=0)


@dataclass(frozen=True)
class SimConfig(Section):
    """The simulated play table (lumos_core.sim)."""

    SECTION = "sim"
    static_size: int = doc(64, "Side of the static camera image (CALVIN: 200).", low=8, high=512)
    gripper_size: int = doc(64, "Side of the gripper camera image (CALVIN: 84).", low=8,
                            high=512)
    render: bool = doc(True, "Render camera images (false: state-only observations).")


@dataclass(frozen=True)
class CollectConfig(Section):
    """Scripted play-data collection (`lumos collect`)."""

    SECTION = "collect"
    frames: int = doc(100_000, "Frames to record in total (training + validation).", low=1)
    episode_length: int = doc(1000, "Frames per play episode (one continuous recording; each "
                                    "starts at the neutral pose, as evaluation chains do).",
                              low=10)
    validation_fraction: float = doc(0.1, "Share of episodes written to validation/.",
                                     low=0.0, high=0.9)
    workers: int = doc(2, "Parallel simulator processes (one per core).", low=1)
    noise: float = doc(0.1, "Std of the expert's motion noise, in units of the action scale.",
                       low=0.0, high=1.0)
    pause_prob: float = doc(0.1, "Probability of a pause (holding still) between tasks.",
                            low=0.0, high=1.0)
    free_motion_prob: float = doc(0.15, "Probability of a free motion between tasks.",
                                  low=0.0, high=1.0)
    tasks: tuple[str, ...] = doc((), "Tasks the expert plays (empty: every task); e.g. one "
                                     "task family for tiny learning checks.")
    interrupt_prob: float = doc(0.5, "Probability that play moves on to the next task the "
                                     "moment the oracle sees the current one completed, "
                                     "leaving the rest of the expert's plan (rising, letting "
                                     "go) undone. Evaluation chains give the next instruction "
                                     "at exactly that moment, so the next task must be "
                                     "learnable from such states (0: every plan runs to its "
                                     "end, as data recorded before this setting).",
                                low=0.0, high=1.0)
    home_prob: float = doc(0.1, "Probability of returning to (near) the neutral pose between "
                                "tasks, where evaluation chains start.", low=0.0, high=1.0)
    balance_tasks: bool = doc(True, "Choose the next task among the feasible ones with weight "
                                    "1/(1 + completions of it so far in the episode), so that "
                                    "every task is visited often; false: a family uniformly, "
                                    "then a task in it.")
    multimodal: bool = doc(False, "The expert does each task one of several ways, chosen at "
                                  "random per plan: a block grasped at either of its two "
                                  "equivalent yaws (the wrist turns one way or the other) and "
                                  "the approach straight or by a detour 7 cm to either side. "
                                  "Human play (the paper's data) is multimodal; the scripted "
                                  "expert's one way per task and state is not (false).")
    lang_density: float = doc(0.01, "Language-annotated windows per recorded frame, as CALVIN "
                                    "counts its '1 %' (D: ~5 100 windows over 512 k frames, one "
                                    "per ~100 frames); each annotates one oracle-detected task "
                                    "completion, tasks round-robin, so a density above the "
                                    "completion rate annotates every completion. Lower values "
                                    "give the data-efficiency regimes.", low=0.0, high=1.0)
    lang_window: int = doc(128, "Longest annotated window; windows end where the oracle sees "
                                "the task completed (CALVIN: 64 frames, fixed).", low=2)
    lang_align: bool = doc(True, "Annotated windows start where the expert began the task "
                                 "(at least 20 and at most lang_window frames): the described "
                                 "behaviour, its approach included, and nothing of the task "
                                 "before. false: exactly lang_window frames ending at the "
                                 "completion (CALVIN's fixed windows; here the expert's tasks "
                                 "take 23-126 frames, so fixed windows cut approaches off and "
                                 "carry other behaviour).")
    seed: int = doc(0, "Random seed of the collection.")

    def _check(self) -> None:
        from lumos_core.sim.tasks import TASKS

        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise ConfigError(f"collect.tasks: unknown task(s) {unknown}; known tasks: "
                              f"{', '.join(TASKS)}")


@dataclass(frozen=True)
class WorldModelConfig(Section):
    """DreamerV2-style RSSM world model (paper Sec. IV-A, eq. 1-2)."""

    SECTION = "world_model"
    obs_mode: str = doc("vision", "'vision': two cameras (+ proprioception); 'state': robot_obs + "
                                  "scene_obs vectors with MLP encoder/decoder.",
                        choices=("vision", "state"))
    cnn_depth: int = doc(48, "Channels of the first encoder conv layer (doubles per layer).",
                         low=1)
    embed: int = doc(1536, "Size of the fused camera embedding (official: 1536).", low=1)
    use_proprio: bool = doc(True, "Append the normalised 15-d robot_obs to the image embedding.")
    deter: int = doc(1024, "Size of the deterministic GRU state h.", low=1)
    hidden: int = doc(1000, "Hidden width of the RSSM input/prior/posterior MLPs.", low=1)
    stoch: int = doc(32, "Number of categorical variables in the stochastic state z.", low=1)
    classes: int = doc(32, "Classes per categorical variable of z.", low=2)
    mlp_units: int = doc(512, "Width of the state-mode MLP encoder/decoder.", low=1)
    mlp_layers: int = doc(3, "Hidden layers of the state-mode MLP encoder/decoder.", low=1)
    kl_scale: float = doc(0.3, "beta: weight of the KL term in the world-model loss.", low=0.0)
    kl_balance: float = doc(0.8, "KL balancing: weight of KL(sg(q)||p); 1 - it weights "
                                 "KL(q||sg(p)).", low=0.0, high=1.0)
    free_nats: float = doc(0.0, "KL values below this are not penalised (official: 0).", low=0.0)
    image_scale: float = doc(1.0, "Weight of the image (or state) reconstruction NLL.", low=0.0)
    state_resolution: float = doc(
        0.0, "State mode: standard deviation (metres) of the state decoder's Gaussian for "
             "positions, the other dimensions scaled alike (angles 10x in radians, see "
             "world_model.RESOLUTION_UNITS), so that the reconstruction asks for the precision "
             "a grasp needs; 0 = unit variance in data-std units (the first versions: the "
             "filtered latent knew the TCP to 8 mm, the blocks to 5 mm median, 20-30 mm p90).",
        low=0.0)
    filter_warmup: int = doc(10, "Extra filter steps on the first observation after a reset "
                                 "(the robot holding still), so that the first latent a policy "
                                 "acts on resembles the long-history latents it trained on "
                                 "(state WM: cosine of h to the long-history h 0.92 with 10, "
                                 "-0.17 without); 0 = one step, as the official code.",
                             low=0, high=100)
    canonical_scene: bool = doc(True, "State mode: block yaws enter the model modulo pi (the "
                                      "blocks are boxes, a half-turn looks the same); raw "
                                      "yaws make the grasp yaw a discontinuous function of "
                                      "the input (true-state BC turned past the block). "
                                      "Checkpoints from before this key read false.")

    @property
    def stoch_dim(self) -> int:
        """Flattened size of z."""
        return self.stoch * self.classes

    @property
    def feat_dim(self) -> int:
        """Size of the latent state s = concat(h, z)."""
        return self.deter + self.stoch_dim


@dataclass(frozen=True)
class WorldModelTrainConfig(Section):
    """Optimisation of the world model."""

    SECTION = "wm_train"
    steps: int = doc(2_000_000, "Number of optimiser updates.", low=1)
    batch_size: int = doc(50, "Sequences per batch.", low=1)
    seq_len: int = doc(50, "Length T of each training sequence.", low=2)
    lr: float = doc(3e-4, "AdamW learning rate.", low=0.0)
    eps: float = doc(1e-5, "AdamW epsilon.", low=0.0)
    weight_decay: float = doc(0.05, "AdamW weight decay.", low=0.0)
    grad_clip: float = doc(100.0, "Clip the global norm of the unscaled gradients to this.",
                           low=0.0)
    precision: str = doc("auto", "Arithmetic of a training step: 'auto' (bf16 autocast for vision "
                         "models on GPUs and on CPUs with native bf16, fp16 + GradScaler on GPUs "
                         "without bf16, else fp32), 'fp32', 'bf16', 'fp16' (CUDA only); "
                         "lumos_core/precision.py, docs/performance.md.",
                         choices=("auto", "fp32", "bf16", "fp16"))
    compile: str = doc("auto", "torch.compile the step's hot modules (encoders, decoders, the "
                       "recurrent cell): 'always'; 'auto' and 'never' do not (measured slower "
                       "on CPUs and on an H200); eager with a warning where compiling is "
                       "impossible (lumos_core/compile.py).",
                       choices=("auto", "always", "never"))
    cuda_graph: str = doc("auto", "On CUDA, capture the whole training step (forward, backward, "
                          "clipping, AdamW) as one CUDA graph and replay it per batch: 'auto' "
                          "(wherever possible: not with fp16, DDP or compile), 'never' "
                          "(lumos_core/cuda_graph.py).", choices=("auto", "never"))
    overshoot: int = doc(0, "Multi-step prediction loss (latent overshooting): from every "
                         "filtered state the prior runs open loop through the recorded actions "
                         "for this many steps, each step's prior pulled to the filter's "
                         "posterior (and, in state mode, decoded against the observation). 0: "
                         "off (the official one-step loss). WorldModel.overshooting; "
                         "docs/agents.md.", low=0)
    overshoot_scale: float = doc(1.0, "Weight of the overshooting term.", low=0.0)
    reset_prob: float = doc(0.01, "Probability per frame of resetting the carried state.",
                            low=0.0, high=1.0)
    log_every: int = doc(100, "Write scalar metrics every N updates.", low=1)
    eval_every: int = doc(5000, "Validation loss (and open-loop report) every N updates.", low=1)
    first_eval: int = doc(200, "Also evaluate (validation loss, open-loop report) once at this "
                               "update, so that a short run shows a report early; 0: only "
                               "every eval_every.", low=0)
    checkpoint_every: int = doc(10000, "Write a checkpoint every N updates.", low=1)
    seed: int = doc(42, "Random seed.")


@dataclass(frozen=True)
class AgentConfig(Section):
    """LUMOS behaviour learning in latent imagination (paper Sec. IV-B, eq. 3-6)."""

    SECTION = "agent"
    method: str = doc("lumos", "Algorithm: 'lumos' (imagination + DITTO reward), 'mcil' (latent "
                               "plans + BC) or 'gcbc' (goal-conditioned BC).",
                      choices=("lumos", "mcil", "gcbc"))
    use_ditto: bool = doc(True, "DITTO intrinsic reward; false = the paper's 'no DITTO' ablation "
                                "(MSE on expert actions instead).")
    use_plan: bool = doc(True, "Latent plans (recognition/proposal); false = 'no latent plan'.")
    use_alignment: bool = doc(True, "Language-latent contrastive loss; false = 'no alignment'.")
    reward_latent: str = doc("h", "Latent the DITTO reward compares: 'h' (deterministic part, as "
                                  "the official code), 'hz' (s = (h, z), as the paper's eq. 3) "
                                  "or 'decoded' (state mode: the world model's reconstruction "
                                  "of the state from s, 39 normalised values).",
                             choices=("h", "hz", "decoded"))
    reward_target: str = doc("posterior", "What the DITTO reward compares the imagined "
                                          "latents with: 'posterior' (the expert's filtered "
                                          "latents, the paper) or 'imagined' (the expert's "
                                          "recorded actions rolled out open loop in the world "
                                          "model from the same start, without gradient: both "
                                          "trajectories then carry the same model error, so "
                                          "the model's open-loop bias cannot be exploited and "
                                          "the expert's actions earn the maximum up to the "
                                          "prior's sampling noise; docs/agents.md, session 9).",
                             choices=("posterior", "imagined"))
    reward_norm: str = doc("none", "Normalisation of the reward latent before eq. 3: 'none' "
                                   "(official); 'standardize' (per dimension, with the mean "
                                   "and std of the training features); 'start' (standardised, "
                                   "then relative to the window's first latent, from which "
                                   "imagination starts too: eq. 3 then compares how far and "
                                   "where each trajectory moved). Without one, the constant "
                                   "part of the latent dominates the dot product and standing "
                                   "still earns most of the expert's reward.",
                           choices=("none", "standardize", "start"))
    imagine_noise: str = doc("independent", "Random draws of the prior's z in imagination: "
                                            "'independent' (each rollout its own, the paper) "
                                            "or 'common' (the actor's rollout and the "
                                            "expert's imagined reward target share one Gumbel "
                                            "noise per step: with reward_target=imagined the "
                                            "expert's actions then earn exactly eq. 3's "
                                            "maximum, and the reward's gradient carries no "
                                            "sampling noise of the target).",
                             choices=("independent", "common"))
    imagine_action: str = doc("sample", "Actions of the actor in imagination: 'sample' "
                                        "(tanh(mean + std * eps), the paper; the std is "
                                        "trained by the return only) or 'mean' (tanh(mean): "
                                        "the action the policy executes at control time).",
                              choices=("sample", "mean"))
    imagine_state_grad: str = doc("through", "How DITTO's gradient reaches the actor in "
                                             "imagination: 'through' (the paper: also through "
                                             "the actor's input, so the actor learns how to "
                                             "react to a state from the world model's "
                                             "sensitivity of later states to earlier actions, "
                                             "which its prediction loss never trains) or "
                                             "'stop' (the actor's input latent is detached: "
                                             "each action is still trained by its effect on "
                                             "the later states, not by how the states it "
                                             "reacts to depended on its earlier actions).",
                                  choices=("through", "stop"))
    imagine_gripper: str = doc("binary", "Gripper action the world model receives in "
                                         "imagination: 'binary' (+-1, as the policy "
                                         "executes it and as every recorded action is; "
                                         "straight-through gradient) or 'continuous' "
                                         "(tanh of the actor's output, the official code: "
                                         "the world model never saw such actions, and a "
                                         "DITTO update that moves the mean across 0 flips "
                                         "the executed gripper -- measured: closed at the "
                                         "first step, docs/agents.md session 10).",
                               choices=("binary", "continuous"))
    bootstrap: str = doc("critic", "Returns of imagination: 'critic' (lambda-returns "
                                   "bootstrapped from the target critic, eq. 5-6) or 'none' "
                                   "(the discounted sum of the H-1 imagined rewards; no critic "
                                   "is trained): the actor-critic machinery's ablation.",
                         choices=("critic", "none"))
    return_norm: str = doc("none", "Scale of the actor's return objective (eq. 6): 'none' "
                                   "(the paper); 'percentile': divided by max(1, S), S a "
                                   "running 5-95 % range of the lambda-returns (DreamerV3), "
                                   "so that the return gradient does not swamp a BC term "
                                   "(unnormalised: ~-20 next to a BC loss of ~0.04).",
                           choices=("none", "percentile"))
    ditto_bc_scale: float = doc(0.0, "Weight of a behaviour-cloning term (MSE of the actor's "
                                     "mean on the expert latents) next to the DITTO objective; "
                                     "0 = the paper. Reported as 'LUMOS + BC term'.", low=0.0)
    std_nll_scale: float = doc(0.0, "Weight of a Gaussian likelihood term that trains the "
                                    "actor's std on the expert's residuals around its "
                                    "(detached) mean wherever behaviour cloning runs; 0 = the "
                                    "std is trained by the DITTO objective only, so an "
                                    "imagining agent starts DITTO with whatever std the BC "
                                    "warm-up left (measured 0.05-0.9).", low=0.0)
    bc_warmup: int = doc(0, "Batches at the start of training in which an imagining agent "
                            "is trained by behaviour cloning only (no imagination; ~6x "
                            "faster per batch on a CPU), then DITTO takes over: a warm start "
                            "of the actor by BC. 0 = the paper. Reported with the results.",
                         low=0)
    critic_warmup_every: int = doc(0, "During the BC warm-up, every this many batches the "
                                      "critic (only) is also trained on imagined rollouts of "
                                      "the BC actor, so that DITTO starts against a critic "
                                      "that already values that actor instead of one at its "
                                      "initialisation; 0 = off (the critic starts with DITTO).",
                                   low=0)
    actor_latent: str = doc("hz", "What the actor and critic see of the latent: 'hz' (s = (h, "
                                  "z), the paper), 'h' (the deterministic part only; z is "
                                  "one straight-through sample), 'decoded' (state mode: s "
                                  "read by the world model's frozen state decoder, 39 "
                                  "normalised state values) or 'hz+decoded' (both).",
                            choices=("hz", "h", "decoded", "hz+decoded"))
    relative_inputs: bool = doc(False, "State mode, with a decoded actor_latent: the actor and "
                                       "critic also see the geometry the decoded state "
                                       "implies -- each block's position relative to the "
                                       "TCP, the blocks' offsets to each other (decimetres) "
                                       "and sin/cos of twice each block's yaw against the "
                                       "gripper's (24 values). A block task's target is "
                                       "then a difference the first layer reads directly "
                                       "instead of one it must form from absolute "
                                       "coordinates under the goal's gating.")
    lang_per_task: int = doc(0, "Use at most this many language-annotated windows per task "
                                "(a fixed random subset; 0 = all): the data-efficiency study "
                                "on one dataset and one world model.", low=0)
    image_goals: bool = doc(True, "Train on image-goal windows of all play next to the "
                                  "language windows (official, MCIL); false = language "
                                  "windows only (a baseline's diagnostic).")
    resample_goal: bool = doc(False, "Each language window's goal is drawn at every batch "
                                     "from all annotated sentences of its task (the "
                                     "annotations' task labels, as CALVIN ships them), not "
                                     "only the sentence it was annotated with: the goal "
                                     "encoder cannot tie a paraphrase to the few windows it "
                                     "annotates. false = official.")
    history_free_prob: float = doc(0.5, "Probability per batch that the windows' first latent "
                                        "is replaced by its history-free version (the first "
                                        "step after a reset; official: 0.5).",
                                   low=0.0, high=1.0)
    horizon: int = doc(32, "Imagination horizon H.", low=2)
    min_window: int = doc(20, "Minimum expert window length.", low=2)
    max_window: int = doc(32, "Maximum expert window length (windows are padded to it).", low=2)
    gamma: float = doc(0.995, "Discount of the lambda-return.", low=0.0, high=1.0)
    lambda_: float = doc(0.95, "lambda of the lambda-return.", low=0.0, high=1.0)
    code_units: int = doc(1024, "Hidden width of the per-frame code network.", low=1)
    code_dim: int = doc(128, "Per-frame code size seen by the plan and goal networks.", low=1)
    goal_dim: int = doc(32, "Size of the encoded goal.", low=1)
    goal_units: int = doc(2048, "Hidden width of the goal encoders.", low=1)
    plan_stoch: int = doc(32, "Categoricals in a latent plan.", low=1)
    plan_classes: int = doc(32, "Classes per plan categorical.", low=2)
    proposal_units: int = doc(2048, "Hidden width of the plan proposal MLP.", low=1)
    proposal_layers: int = doc(4, "Hidden layers of the plan proposal MLP.", low=1)
    recognition_layers: int = doc(2, "Transformer layers of plan recognition.", low=1)
    recognition_heads: int = doc(8, "Attention heads of plan recognition.", low=1)
    recognition_ff: int = doc(2048, "Feed-forward width of plan recognition.", low=1)
    recognition_features: int = doc(4096, "Pooled sequence-feature size of plan recognition.",
                                    low=1)
    actor_units: int = doc(256, "Hidden width of the actor.", low=1)
    actor_layers: int = doc(8, "Hidden layers of the actor.", low=1)
    critic_units: int = doc(1024, "Hidden width of the critic.", low=1)
    critic_layers: int = doc(8, "Hidden layers of the critic.", low=1)
    kl_scale: float = doc(0.1, "alpha1: weight of the plan KL.", low=0.0)
    kl_balance: float = doc(0.8, "KL balancing of the plan KL.", low=0.0, high=1.0)
    alignment_scale: float = doc(3.0, "alpha2: weight of the contrastive alignment loss.",
                                 low=0.0)
    align_mask_same_task: bool = doc(False, "Leave pairs of windows of the same task out of "
                                            "the contrastive loss's negatives (with 27 tasks "
                                            "a batch holds many: they are not negatives). "
                                            "false = official (every other pair negative).")
    align_goal_grad: bool = doc(True, "The alignment loss's gradient reaches the goal "
                                "embedding the actor reads (official); false: it trains the "
                                "recognition features and its projections only (session 30).")
    bc_scale: float = doc(1.0, "Weight of the action MSE when use_ditto is false (and for the "
                               "BC baselines).", low=0.0)
    plan_input: str = doc("sample", "What the actor and critic see of a latent plan: 'sample' "
                                    "(a one-hot sample, straight-through; the official code) "
                                    "or 'probs' (the categoricals' probabilities: a collapsed "
                                    "plan, whose posterior equals its prior, is then a "
                                    "constant instead of 1 024 inputs of noise; an "
                                    "informative plan's probabilities carry the recognised "
                                    "window past the KL, which a sample does not: "
                                    "docs/agents.md, session 24).",
                          choices=("sample", "probs"))
    replan_every: int = doc(30, "Re-sample the plan from the proposal every N control steps.",
                            low=1)
    action_mode: str = doc("mean", "Control-time action: 'mean' (tanh of the Gaussian mean) or "
                                   "'sample' (the official code; BC heads never train the std, "
                                   "so samples are noise around the mean).",
                           choices=("sample", "mean"))

    @property
    def plan_dim(self) -> int:
        """Flattened size of a latent plan."""
        return self.plan_stoch * self.plan_classes

    @property
    def imagines(self) -> bool:
        """Actor-critic in imagination with the DITTO reward (a LUMOS agent with DITTO)."""
        return self.method == "lumos" and self.use_ditto

    def _check(self) -> None:
        if self.min_window > self.max_window:
            raise ConfigError(f"agent.min_window ({self.min_window}) must be <= "
                              f"agent.max_window ({self.max_window})")
        if self.code_dim % self.recognition_heads:
            raise ConfigError(f"agent.code_dim ({self.code_dim}) must be divisible by "
                              f"agent.recognition_heads ({self.recognition_heads})")


@dataclass(frozen=True)
class AgentTrainConfig(Section):
    """Optimisation of the behaviour model."""

    SECTION = "agent_train"
    steps: int = doc(1_000_000, "Number of batches (each makes a critic and an actor update).",
                     low=1)
    batch_size: int = doc(256, "Windows per modality (image-goal and language-goal) per batch.",
                          low=1)
    actor_lr: float = doc(2e-4, "Adam learning rate of the actor side.", low=0.0)
    ditto_lr: float = doc(0.0, "Adam learning rate of the actor side once DITTO takes over "
                               "from the BC warm-up (agent.bc_warmup); 0 = actor_lr. A warm-up "
                               "at a BC rate (1e-3) followed by DITTO at the same rate undoes "
                               "the warm start: the exact DITTO objective falls (0.72 -> 0.62 "
                               "in 25 batches) where 3e-5 raises it (docs/agents.md, session "
                               "10). Applies to every agent.method=lumos variant, the "
                               "no-DITTO ablation too (BC at this rate after the warm-up: the "
                               "ablation then differs from LUMOS in DITTO only; session 13); "
                               "not to the GCBC and MCIL baselines.", low=0.0)
    anneal_at: int = doc(0, "From this batch on, the actor side of every method (the GCBC "
                            "and MCIL baselines too) trains at agent_train.anneal_lr; 0 = "
                            "never. The session-22-24 recipe (benchmark profile 'long'): "
                            "13 232 batches at 1e-3, then 1 000 at 3e-5 (docs/agents.md).",
                         low=0)
    anneal_lr: float = doc(3e-5, "Adam learning rate of the actor side from agent_train."
                                 "anneal_at on.", low=0.0)
    critic_lr: float = doc(3e-4, "AdamW learning rate of the critic.", low=0.0)
    grad_clip: float = doc(100.0, "Gradient-norm clip of each optimiser.", low=0.0)
    target_update_every: int = doc(50, "Hard copy critic -> target critic every N batches.", low=1)
    precision: str = doc("auto", "Arithmetic of an update: 'auto' (bf16 autocast on CPUs with "
                         "native bf16, else fp32; fp32 on GPUs, where bf16 measured slower), "
                         "'fp32', 'bf16'; docs/performance.md.", choices=("auto", "fp32", "bf16"))
    compile: str = doc("auto", "torch.compile the whole loss of an update, the imagination "
                       "loop unrolled into one graph: 'always'; 'auto' only where it was "
                       "measured to pay -- on a CPU, a LUMOS agent imagining >= 16 steps in "
                       "every batch (no BC warm-up) for >= 4000 batches (docs/performance.md, "
                       "'Session 30'); 'never' does not; eager with a warning where 'always' "
                       "cannot compile (lumos_core/compile.py).",
                       choices=("auto", "always", "never"))
    log_every: int = doc(100, "Write scalar metrics every N batches.", low=1)
    checkpoint_every: int = doc(10000, "Write a checkpoint every N batches.", low=1)
    seed: int = doc(42, "Random seed.")


@dataclass(frozen=True)
class LumosConfig:
    """The whole configuration: one section per component."""

    data: DataConfig = field(default_factory=DataConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    wm_train: WorldModelTrainConfig = field(default_factory=WorldModelTrainConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    agent_train: AgentTrainConfig = field(default_factory=AgentTrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (tuples become lists), for YAML/JSON."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LumosConfig":
        """Build and validate from a nested dict; unknown keys are errors."""
        return merge(cls(), data)

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> "LumosConfig":
        """Like :meth:`from_dict` for a config stored by an older version (checkpoints):
        keys listed in :data:`RETIRED_KEYS` are dropped, keys it lacks that
        :data:`LEGACY_DEFAULTS` lists take the value that version behaved with; anything else
        unknown is an error."""
        clean = {name: ({k: v for k, v in values.items()
                         if k not in RETIRED_KEYS.get(name, ())}
                        if isinstance(values, Mapping) else values)
                 for name, values in data.items()}
        for name, legacy in LEGACY_DEFAULTS.items():
            if isinstance(clean.get(name), Mapping):
                clean[name] = {**legacy, **clean[name]}
        return merge(cls(), clean)


#: keys older versions stored that no longer exist (their meaning changed; they never affect a
#: trained model): ``collect.lang_fraction`` (frames covered) became ``collect.lang_density``
#: (windows per frame); ``wm_train.amp`` (fp16 on CUDA) became ``wm_train.precision``
RETIRED_KEYS: dict[str, tuple[str, ...]] = {"collect": ("lang_fraction",), "wm_train": ("amp",)}

#: keys added later whose default differs from how older versions behaved: a stored config
#: without them gets the old behaviour (a model trained on raw block yaws keeps them; an agent
#: that imagined continuous gripper actions says so)
LEGACY_DEFAULTS: dict[str, dict[str, Any]] = {
    "world_model": {"canonical_scene": False}, "collect": {"interrupt_prob": 0.0},
    "agent": {"imagine_gripper": "continuous"}}


SECTIONS: dict[str, type[Section]] = typing.get_type_hints(LumosConfig)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _coerce(value: Any, tp: Any) -> Any:
    """YAML lists become tuples, ints become floats and YAML 1.1's unparsed exponent
    notation ("1e-3" is a string in YAML 1.1) becomes a float where the field is a float."""
    if typing.get_origin(tp) is tuple and isinstance(value, list):
        return tuple(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def merge(config: LumosConfig, overrides: Mapping[str, Any]) -> LumosConfig:
    """Return ``config`` with nested ``overrides`` applied and validated."""
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"config overrides must be a mapping of sections, got {overrides!r}")
    sections = {}
    for name, values in overrides.items():
        if name not in SECTIONS:
            raise ConfigError(f"unknown config section {name!r}; allowed sections: "
                              f"{', '.join(SECTIONS)}")
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise ConfigError(f"config section {name!r} must be a mapping of keys, got "
                              f"{values!r}")
        cls = SECTIONS[name]
        hints = typing.get_type_hints(cls)
        allowed = [f.name for f in dataclasses.fields(cls)]
        changes = {}
        for key, value in values.items():
            if key not in allowed:
                raise ConfigError(f"unknown config key {name}.{key}; allowed keys in {name}: "
                                  f"{', '.join(allowed)}")
            changes[key] = _coerce(value, hints[key])
        sections[name] = dataclasses.replace(getattr(config, name), **changes)
    return dataclasses.replace(config, **sections)


def parse_override(text: str) -> dict[str, dict[str, Any]]:
    """Parse one ``section.key=value`` CLI override (the value is read as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value, "
                          "e.g. world_model.deter=256")
    dotted, raw = text.split("=", 1)
    parts = dotted.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"override key {dotted!r} must be section.key, e.g. world_model.deter; "
                          f"sections: {', '.join(SECTIONS)}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({exc})") from exc
    return {parts[0]: {parts[1]: value}}


def read_yaml(path: Path, what: str, error: type[Exception] = ValueError) -> Any:
    """Parse a YAML file; a missing or malformed file raises ``error`` naming ``what`` and it."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise error(f"{what} {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML: {exc}") from exc


def load_presets(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Read the named presets file (default: ``config/lumos.yaml``)."""
    from lumos_core.paths import config_file

    path = Path(path) if path is not None else config_file("lumos.yaml")
    data = read_yaml(path, "preset file", ConfigError)
    if not isinstance(data, dict) or not all(isinstance(v, (dict, type(None)))
                                             for v in data.values()):
        raise ConfigError(f"preset file {path} must map preset names to config sections")
    return {name: (value or {}) for name, value in data.items()}


def load_config(preset: str = "paper", overrides: tuple[str, ...] | list[str] = (),
                presets_file: str | Path | None = None) -> LumosConfig:
    """Defaults, then the named preset, then ``section.key=value`` overrides, validated."""
    presets = load_presets(presets_file)
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r}; available presets: "
                          f"{', '.join(sorted(presets))}")
    config = merge(LumosConfig(), presets[preset])
    for text in overrides:
        config = merge(config, parse_override(text))
    return config


def describe(config: LumosConfig) -> str:
    """YAML text of ``config`` with every field's docstring as a comment."""
    lines = []
    for name, cls in SECTIONS.items():
        lines.append(f"{name}:  # {cls.__doc__.strip().splitlines()[0]}")
        section = getattr(config, name)
        for f in dataclasses.fields(cls):
            value = yaml.safe_dump(_plain(getattr(section, f.name)), default_flow_style=True)
            value = value.strip().removesuffix("...").strip()
            lines.append(f"  {f.name}: {value}  # {f.metadata['doc']}")
    return "\n".join(lines) + "\n"
