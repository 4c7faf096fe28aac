"""`lumos train-agent`: behaviour learning on featurized data.

Each batch makes a critic update (AdamW) and then an actor-side update (Adam) of every other
network, each clipped; the critic is hard-copied to the target critic every
``target_update_every`` batches. Checkpoints are of kind ``policy``: the frozen world model, the
behaviour networks, the normalisation, the language model id and the instructions the policy was
trained on (the language command server's domain); plus optimiser/RNG state for ``--resume``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lumos_core.agent import LumosAgent
from lumos_core.agent_data import WindowSampler
from lumos_core.checkpoint import load_checkpoint, save_checkpoint
from lumos_core.compile import agent_compile_pays, compiled_function, wants_compile
from lumos_core.config import LumosConfig, merge
from lumos_core.featurize import Features, load_world_model
from lumos_core.language import MODEL_ID
from lumos_core.precision import autocast, autocast_dtype
from lumos_core.runs import (OutputError, check_resume_config, load_optimizer,
                             truncate_metrics)

#: agent settings a resumed run may change, as they leave the weights alone: where the BC
#: warm-up ends (a warm-up continued longer, or DITTO started from a chosen checkpoint) and
#: how far imagination runs (DITTO's horizon compared from one warm start)
RESUMABLE_SCHEDULE = ("agent.bc_warmup", "agent.horizon")
#: which components a behaviour model has (init from another set: shared weights only)
COMPONENT_KEYS = ("method", "use_ditto", "use_plan", "use_alignment", "bootstrap")
#: what ``--init-from`` may change besides the schedule: the training objective, not the
#: networks (whose shapes are checked weight by weight)
INIT_OBJECTIVE_KEYS = tuple(f"agent.{k}" for k in COMPONENT_KEYS) + (
    "agent.image_goals", "agent.imagine_gripper", "agent.reward_norm", "agent.return_norm",
    "agent.ditto_bc_scale", "agent.history_free_prob", "agent.reward_latent",
    "agent.reward_target", "agent.imagine_noise", "agent.imagine_action",
    "agent.imagine_state_grad", "agent.align_goal_grad")

CHECKPOINTS = "checkpoints"


class AgentTrainer:
    """Owns the agent, its optimisers, the window sampler and the run directory."""

    def __init__(self, cfg: LumosConfig, features: str | Path, run_dir: str | Path,
                 device: str = "cpu", progress: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.device = torch.device(device)
        feats = Features(Path(features) / "training")
        self.wm_path = Path(feats.meta["checkpoint"])
        world_model, wm_cfg = load_world_model(self.wm_path, device)
        # the world model's own sections win: the agent must match the latents it was given
        self.cfg = merge(cfg, {"world_model": wm_cfg.to_dict()["world_model"],
                               "data": {"dataset": feats.meta["dataset"]}})
        torch.manual_seed(self.cfg.agent_train.seed)
        self.rng = np.random.default_rng(self.cfg.agent_train.seed)
        self.sampler = WindowSampler(feats, Path(feats.meta["dataset"]) / "training",
                                     self.cfg.agent, self.rng)
        self.agent = LumosAgent(self.cfg.agent, world_model).to(self.device)
        if self.agent.behaviour.imagines:
            self.agent.set_reward_statistics(
                torch.as_tensor(feats.sample(self.rng), device=self.device))
        t = self.cfg.agent_train
        b = self.agent.behaviour
        self.actor_opt = torch.optim.Adam(b.actor_params(), lr=t.actor_lr)
        self.critic_opt = (torch.optim.AdamW(b.critic.parameters(), lr=t.critic_lr, eps=1e-5,
                                             weight_decay=0.01) if b.imagines else None)
        self.amp_dtype = autocast_dtype(t.precision, self.device, "agent")
        # the whole loss, imagination loop included, as one compiled function (it reads the
        # agent's parameters: the checkpoints' weights and keys stay the eager ones);
        # ``auto`` decides in :meth:`fit`, which knows how many batches are to come
        self.compiled = False
        self.loss_terms = self.agent.loss_terms
        if t.compile == "always":
            self.use_compiled(wants_compile(t.compile, self.device, "agent training"))
        self.step = 0
        self.writer = None
        self.initialised_from: str | None = None

    def use_compiled(self, compiled: bool) -> None:
        """Run the compiled loss (or the eager one) from the next batch on."""
        self.compiled = compiled
        self.loss_terms = (compiled_function(self.agent.loss_terms) if compiled
                           else self.agent.loss_terms)

    def training_state(self) -> dict:
        """Everything needed to continue exactly."""
        state = {"step": self.step, "actor_opt": self.actor_opt.state_dict(),
                 "torch_rng": torch.get_rng_state(),
                 "numpy_rng": json.dumps(self.rng.bit_generator.state)}
        if self.critic_opt is not None:
            state["critic_opt"] = self.critic_opt.state_dict()
        return state

    def save(self, name: str | None = None) -> Path:
        """A ``policy`` checkpoint: world model + behaviour + everything to deploy it."""
        path = self.run_dir / CHECKPOINTS / (name or f"step_{self.step:08d}")
        save_checkpoint(path, kind="policy",
                        modules={"world_model": self.agent.world_model,
                                 "behaviour": self.agent.behaviour},
                        config=self.cfg, normalization=self.agent.world_model.normalization(),
                        language_model_id=MODEL_ID,
                        extra={"step": self.step, "world_model_checkpoint": str(self.wm_path),
                               "instructions": self.sampler.instructions(),
                               "initialised_from": self.initialised_from},
                        training_state=self.training_state())
        return path

    def resume(self, path: str | Path | None = None) -> None:
        """Continue from ``path`` or the run's latest checkpoint."""
        found = sorted((self.run_dir / CHECKPOINTS).glob("step_*"))
        path = Path(path) if path else (found[-1] if found else None)
        if path is None:
            raise FileNotFoundError(f"{self.run_dir / CHECKPOINTS}: no checkpoint to resume")
        ckpt = load_checkpoint(path, kind="policy")
        check_resume_config(path, ckpt.lumos_config().to_dict(), self.cfg.to_dict(),
                            ("world_model", "agent"), schedule=RESUMABLE_SCHEDULE)
        state = self.load_weights_and_optimizers(ckpt)
        if state is None:
            raise FileNotFoundError(f"{path}: has no training state; cannot resume")
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        self.step = int(state["step"])
        truncate_metrics(self.run_dir, self.step)

    def init_from(self, path: str | Path, other_world_model: bool = False) -> str:
        """Start this (new) run from the behaviour weights of policy checkpoint ``path`` --
        e.g. an exported policy fine-tuned at a lower rate, or a baseline's policy continued
        by another objective (a GCBC actor trained further by DITTO). Its configuration must
        be this run's except for the schedule and the training objective
        (``INIT_OBJECTIVE_KEYS``); every weight both models have must have the same shape, the
        actor's included; weights only this run has (a critic) start fresh, and the optimiser
        moments are loaded only when the two runs train the same components. Its world model
        must be the one the features were computed with, unless ``other_world_model``: then
        the behaviour weights move onto the features' world model (of the same configuration),
        for a world model fine-tuned from the policy's own (``lumos train-wm --init-from``),
        whose latents -- and decoded states, which a ``decoded`` actor reads -- still mean
        what the actor learnt on. The run counts its own steps from 0. Returns a one-line
        summary of what was loaded."""
        ckpt = load_checkpoint(path, kind="policy")
        check_resume_config(path, ckpt.lumos_config().to_dict(), self.cfg.to_dict(),
                            ("world_model", "agent"),
                            schedule=RESUMABLE_SCHEDULE + INIT_OBJECTIVE_KEYS,
                            what="--init-from")
        if not other_world_model:    # the policy's world model must be the features'
            theirs = ckpt.state_dict("world_model")
            ours = self.agent.world_model.state_dict()
            if set(theirs) != set(ours) or any(not torch.equal(theirs[k].cpu(), ours[k].cpu())
                                               for k in ours):
                raise OutputError(
                    f"--init-from: the world model inside {path} is not the one the features "
                    f"were computed with ({self.wm_path}); its actor would act on another "
                    "model's latents: give the features of its own world model (lumos "
                    f"featurize {path}), or --other-world-model for a world model fine-tuned "
                    "from its own")
        theirs_cfg, ours_cfg = ckpt.lumos_config().agent, self.cfg.agent
        same = all(getattr(theirs_cfg, k) == getattr(ours_cfg, k) for k in COMPONENT_KEYS)
        if same:
            self.load_weights_and_optimizers(ckpt)
            summary = "every behaviour weight and the optimiser moments"
        else:
            summary = self._load_shared_weights(path, ckpt.state_dict("behaviour"))
        self.initialised_from = str(path)
        if other_world_model:
            summary += f"; on the features' world model {self.wm_path}, not the policy's"
        return summary

    def _load_shared_weights(self, path, theirs: dict) -> str:
        """The weights a policy of another method shares with this run's behaviour model (by
        name; every shared one must fit, the actor's must all be there)."""
        behaviour = self.agent.behaviour
        ours = behaviour.state_dict()
        misfit = [f"{k} {tuple(theirs[k].shape)} vs {tuple(v.shape)}"
                  for k, v in ours.items() if k in theirs and theirs[k].shape != v.shape]
        if misfit:
            raise OutputError(f"--init-from: {path} has weights of other shapes than this "
                              "run's model (" + "; ".join(misfit[:4]) + "); its actor cannot "
                              "be continued with these components")
        missing_actor = [k for k in ours if k.startswith("actor.") and k not in theirs]
        if missing_actor:
            raise OutputError(f"--init-from: {path} has no actor weights {missing_actor[:3]} "
                              "for this run's model")
        shared = {k: v for k, v in theirs.items() if k in ours}
        behaviour.load_state_dict({**ours, **shared})
        fresh = sorted({k.split(".")[0] for k in ours if k not in theirs})
        unused = sorted({k.split(".")[0] for k in theirs if k not in ours})
        return (f"{len(shared)} of {len(ours)} behaviour tensors (fresh: "
                f"{', '.join(fresh) or 'none'}; not used: {', '.join(unused) or 'none'}); new "
                "optimiser moments (another method or components)")

    def load_weights_and_optimizers(self, ckpt) -> dict | None:
        """The behaviour weights of policy checkpoint ``ckpt`` and, where it has a training
        state, the optimisers' moments at this configuration's learning rates; returns that
        training state (None: weights only)."""
        self.agent.behaviour.load_weights(ckpt.state_dict("behaviour"))
        state = ckpt.training_state()
        if state is not None:
            t = self.cfg.agent_train
            load_optimizer(self.actor_opt, state["actor_opt"], t.actor_lr)
            if self.critic_opt is not None and "critic_opt" in state:
                load_optimizer(self.critic_opt, state["critic_opt"], t.critic_lr)
        return state

    def in_warmup(self) -> bool:
        """The BC warm-up (``agent.bc_warmup`` batches) -- which ends early, at half of a time
        budget, so that an imagining agent always gets imagination updates (a Table I run whose
        LUMOS training shared the cores got 1 125 batches of a 1 200-batch warm-up: no DITTO
        update at all)."""
        if self.step >= self.cfg.agent.bc_warmup:
            return False
        half = getattr(self, "warmup_deadline", None)
        return half is None or time.monotonic() < half

    def train_step(self) -> dict:
        """One batch: critic update, then actor update; target copy on schedule."""
        t = self.cfg.agent_train
        if self.step % t.target_update_every == 0:
            self.agent.update_target()
        batch = self.sampler.sample(t.batch_size, self.device)
        self.agent.behaviour.train()
        warmup = self.in_warmup()
        # every LUMOS variant, its no-DITTO ablation included, shares one rate schedule (the
        # ablation then differs in DITTO only); the BC baselines keep theirs
        lr = t.actor_lr if warmup or not t.ditto_lr or self.cfg.agent.method != "lumos" \
            else t.ditto_lr
        if t.anneal_at and self.step >= t.anneal_at:   # every method's final rate
            lr = t.anneal_lr
        for group in self.actor_opt.param_groups:
            group["lr"] = lr
        every = self.cfg.agent.critic_warmup_every
        with autocast(self.device.type, self.amp_dtype):
            policy_loss, critic_loss, terms = self.loss_terms(
                batch, bc_only=warmup,
                critic_too=warmup and every > 0 and self.step % every == 0)
        self.actor_opt.zero_grad(set_to_none=True)
        if critic_loss is None:
            policy_loss.backward()
        else:
            # one backward through both (their parameters are disjoint: the critic's loss
            # reads detached inputs), as a compiled loss has one backward for all its outputs
            self.critic_opt.zero_grad(set_to_none=True)
            torch.autograd.backward([critic_loss, policy_loss])
            torch.nn.utils.clip_grad_norm_(self.agent.behaviour.critic.parameters(),
                                           t.grad_clip)
            self.critic_opt.step()
        torch.nn.utils.clip_grad_norm_(self.agent.behaviour.actor_params(), t.grad_clip)
        self.actor_opt.step()
        metrics = {k: v.item() for k, v in terms.items()}
        if critic_loss is not None:
            metrics["critic_loss"] = critic_loss.item()
        metrics["policy_loss"] = policy_loss.item()
        self.step += 1
        return metrics

    def log(self, metrics: dict) -> None:
        """metrics.jsonl and TensorBoard."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps({"step": self.step, "time": time.time(), **metrics}) + "\n")
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tensorboard"))
        for key, value in metrics.items():
            self.writer.add_scalar(f"agent/{key}", value, self.step)

    def fit(self, steps: int | None = None, max_minutes: float | None = None) -> Path:
        """Train to ``steps`` batches (or for ``max_minutes``); returns the final checkpoint."""
        from tqdm import tqdm

        t = self.cfg.agent_train
        steps = steps or t.steps
        if t.compile == "auto" and not self.compiled:
            why = agent_compile_pays(self.cfg.agent, steps - self.step, self.device, max_minutes)
            if wants_compile("auto", self.device, "agent training", auto=why is not None):
                print(f"train-agent: compiling the agent loss (agent_train.compile=auto: "
                      f"{why})", file=sys.stderr)
                self.use_compiled(True)
        deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
        self.warmup_deadline = None if max_minutes is None else time.monotonic() + 30 * max_minutes
        bar = tqdm(total=steps, initial=self.step, desc="train-agent", unit="batch",
                   disable=not self.progress)
        started, windows = time.perf_counter(), 0
        final = None
        while self.step < steps:
            if deadline is not None and time.monotonic() >= deadline:
                break
            metrics = self.train_step()
            windows += t.batch_size * (2 if self.sampler.has_language else 1)
            bar.update()
            bar.set_postfix(loss=f"{metrics['policy_loss']:.3f}")
            if self.step % t.log_every == 0 or self.step in (1, 10):   # visible at once
                metrics["windows_per_s"] = windows / (time.perf_counter() - started)
                self.log(metrics)
            if self.step % t.checkpoint_every == 0:
                final = self.save()
        bar.close()
        self.windows_per_s = windows / max(time.perf_counter() - started, 1e-9)
        if final is None or not final.name.endswith(f"{self.step:08d}"):
            final = self.save()
        if self.writer is not None:
            self.writer.flush()
        return final
