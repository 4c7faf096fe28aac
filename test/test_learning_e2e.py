"""Learning cannot silently break again: the whole pipeline -- scripted play of one task family,
world model, featurize, GCBC on the latents, the policy in the simulator -- on a tiny budget
(4 k frames, about a minute of training) must complete that task clearly more often than
random actions. A benchmark-style check with fixed seeds, not a timing test.

Sized so that the outcome rarely hinges on the seeds (docs/agents.md, "The end-to-end learning
test made robust (session 19)"): forty 100-frame play episodes (forty scene layouts, each
starting at the neutral pose as the chains do; four 400-frame episodes left the world model's
latents out of distribution on new scenes), the actor at the Table I rate, 24 chains. Over six
seed offsets and both categorical draws, 23 of 24 policies completed the task in 42-75 % of the
chains (one decoded policy in 8 %), random actions in none; the threshold is random + 20 %.
"""

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from lumos_core.config import CollectConfig, SimConfig, load_config

TASKS = ("turn_on_led", "turn_off_led")
SMALL = ["world_model.deter=64", "world_model.hidden=64", "world_model.mlp_units=64",
         "world_model.stoch=8", "world_model.classes=8", "world_model.filter_warmup=5",
         "agent.code_units=64", "agent.code_dim=32", "agent.goal_units=64",
         "agent.actor_units=128", "agent.actor_layers=3", "agent.method=gcbc"]
WM_STEPS, AGENT_STEPS, CHAINS = 250, 1500, 24
ACTOR_LR = 1e-3                    # the Table I rate
MARGIN = 0.2                       # over random actions' first-task success


def _chains(n: int, seed: int) -> list[dict]:
    from lumos_core.sim.env import PlayTableEnv

    rng = np.random.default_rng(seed)
    chains = []
    with PlayTableEnv(SimConfig(render=False)) as env:
        for _ in range(n):
            obs, _ = env.reset(seed=int(rng.integers(2 ** 31)))
            task = "turn_off_led" if obs["scene_obs"][5] > 0.5 else "turn_on_led"
            chains.append({"robot_obs": obs["robot_obs"].tolist(),
                           "scene_obs": obs["scene_obs"].tolist(), "tasks": [task]})
    return chains


def build_features(out: Path, encoder, frames: int = 4000, episode_length: int = 100,
                   wm_steps: int | None = None) -> Path:
    """The test's play data, world model and features under ``out`` (kept where they exist):
    scripted play of TASKS, a SMALL state world model trained ``wm_steps`` batches (default
    WM_STEPS, read at call time), its features. Returns the features' directory."""
    from lumos_core.featurize import featurize
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.collect import collect
    from lumos_core.train_wm import WorldModelTrainer

    data, feats = out / "play", out / "feats"
    if not data.exists():
        collect(data, SimConfig(render=False),
                CollectConfig(frames=frames, episode_length=episode_length,
                              validation_fraction=0.25, workers=1, tasks=TASKS,
                              lang_density=0.1, seed=11),
                load_instruction_file(config_file("sim_instructions_train.yaml")), encoder,
                progress=False)
    if not feats.exists():
        steps = WM_STEPS if wm_steps is None else wm_steps
        cfg = load_config("state", SMALL + [f"data.dataset={data}", f"wm_train.steps={steps}",
                                            "wm_train.batch_size=16", "wm_train.seq_len=32",
                                            "wm_train.eval_every=1000",
                                            "wm_train.checkpoint_every=1000"])
        wm = WorldModelTrainer(cfg, out / "wm", progress=False).fit()
        featurize(wm, data, feats, progress=False)
    return feats


def train_policy(feats: Path, out: Path, latent: str, overrides: Sequence[str] = (),
                 steps: int | None = None) -> Path:
    """The test's GCBC on ``feats`` with the actor reading ``latent`` (``h`` or ``decoded``),
    AGENT_STEPS batches (read at call time) unless ``steps``; ``overrides`` come last.
    Returns the final checkpoint."""
    from lumos_core.train_agent import AgentTrainer

    cfg = load_config("state", SMALL + ["agent_train.batch_size=32",
                                        "agent_train.checkpoint_every=100000",
                                        f"agent_train.actor_lr={ACTOR_LR}",
                                        f"agent.actor_latent={latent}"] + list(overrides))
    return AgentTrainer(cfg, feats, out, progress=False).fit(
        steps=AGENT_STEPS if steps is None else steps)


def test_gcbc_on_latents_beats_random_on_one_task(tmp_path, encoder):
    from lumos_core.evaluation import evaluate
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file

    torch.set_num_threads(1)
    torch.manual_seed(0)
    feats = build_features(tmp_path, encoder)
    chains = _chains(CHAINS, seed=3)
    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    random = evaluate("random", chains, instructions, [0], max_steps=150, progress=False)
    baseline = random["summary"]["success_rate_mean"][0]
    # the actor on h, and reading the latent through the state decoder (the shipped policy's
    # recipe since session 8)
    for latent in ("h", "decoded"):
        policy = train_policy(feats, tmp_path / f"agent_{latent}", latent)
        learned = evaluate(str(policy), chains, instructions, [0], max_steps=150,
                           progress=False)
        rate = learned["summary"]["success_rate_mean"][0]
        assert rate >= baseline + MARGIN, (latent, rate, baseline)
