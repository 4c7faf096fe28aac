"""Agent training end to end at debug size: world model -> featurize -> train-agent (LUMOS,
ablations, baselines) -> resume -> LumosPolicy in the evaluation harness."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lumos_core.agent_data import WindowSampler
from lumos_core.checkpoint import load_checkpoint
from lumos_core.config import load_config
from lumos_core.evaluation import evaluate
from lumos_core.featurize import Features, featurize
from lumos_core.instructions import load_instruction_file
from lumos_core.paths import config_file
from lumos_core.policy import CalvinModelAdapter, LumosPolicy
from lumos_core.sim.chains import load_chains
from lumos_core.train_agent import AgentTrainer
from lumos_core.train_wm import WorldModelTrainer


def _state_overrides(root):
    return [f"data.dataset={root}", "world_model.obs_mode=state", "world_model.use_proprio=false",
            "world_model.mlp_units=32", "wm_train.seq_len=8", "wm_train.batch_size=4",
            "wm_train.eval_every=1000", "wm_train.checkpoint_every=1000",
            "agent_train.batch_size=4", "agent_train.log_every=2",
            "agent_train.checkpoint_every=3", "agent_train.target_update_every=2"]


@pytest.fixture(scope="module")
def features(sim_dataset, tmp_path_factory):
    torch.set_num_threads(1)
    root = sim_dataset[0]
    out = tmp_path_factory.mktemp("agent")
    cfg = load_config("debug", _state_overrides(root))
    wm = WorldModelTrainer(cfg, out / "wm", progress=False)
    wm.fit(3)
    featurize(wm.save("final"), root, out / "feats", progress=False)
    return out, cfg


def test_features_name_their_dataset_absolutely_and_a_missing_one_is_refused(
        features, tmp_path, monkeypatch):
    """Regression (session 28): features named their dataset as given to featurize (e.g. the
    relative ``data/sim_play5``); a training started from another directory then found no
    language annotations there, silently trained on image goals alone (with
    ``agent.image_goals=false`` too) and every row of a Table I run scored 0. The path is now
    absolute, a missing split is an error naming it, and no language windows with
    ``agent.image_goals=false`` is an error."""
    from lumos_core.data.calvin import DatasetError

    out, cfg = features
    feats = Features(out / "feats" / "training")
    assert Path(feats.meta["dataset"]).is_absolute()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match="dataset split these features were computed from "
                                           "is missing"):
        WindowSampler(feats, Path("data/sim_play5/training"), cfg.agent,
                      np.random.default_rng(0))
    (tmp_path / "unannotated" / "training").mkdir(parents=True)
    no_images = load_config("debug", ["agent.image_goals=false"]).agent
    with pytest.raises(DatasetError, match="no language-annotated windows.*image_goals=true"):
        WindowSampler(feats, tmp_path / "unannotated" / "training", no_images,
                      np.random.default_rng(0))
    sampler = WindowSampler(feats, tmp_path / "unannotated" / "training", cfg.agent,
                            np.random.default_rng(0))      # image goals: play alone is fine
    assert not sampler.has_language and len(sampler.sample(3)["feat"]) == 3


def test_window_sampler(features):
    out, cfg = features
    sampler = WindowSampler(Features(out / "feats" / "training"),
                            json.loads((out / "feats" / "meta.json").read_text())["dataset"]
                            + "/training", cfg.agent, np.random.default_rng(0))
    assert sampler.has_language
    batch = sampler.sample(5)
    t = cfg.agent.max_window
    assert batch["feat"].shape == (10, t, cfg.world_model.feat_dim)
    assert batch["is_lang"].tolist() == [False] * 5 + [True] * 5
    # task ids: -1 for image goals, the index of the window's annotated task otherwise
    tasks = sorted(set(sampler.lang_task))
    assert batch["task"][:5].tolist() == [-1] * 5
    assert all(0 <= i < len(tasks) for i in batch["task"][5:].tolist())
    assert [tasks[i] for i in sampler.lang_task_id] == sampler.lang_task
    lengths = batch["mask"].sum(1)
    assert ((lengths >= cfg.agent.min_window) & (lengths <= t)).all()
    padded = ~batch["mask"]
    assert (batch["actions"][..., :6][padded] == 0).all()
    assert set(sampler.instructions()) <= set(load_instruction_file(
        config_file("sim_instructions_train.yaml")))
    # agent.image_goals=false: language windows only (a baseline's diagnostic)
    from dataclasses import replace

    sampler.cfg = replace(cfg.agent, image_goals=False)
    lang_only = sampler.sample(5)
    assert lang_only["is_lang"].tolist() == [True] * 5
    # agent.resample_goal: every goal is an annotated sentence of the window's task
    resampling = WindowSampler(Features(out / "feats" / "training"),
                               json.loads((out / "feats" / "meta.json").read_text())["dataset"]
                               + "/training", replace(cfg.agent, resample_goal=True),
                               np.random.default_rng(0))
    by_task = {}
    for task, emb in zip(resampling.lang_task, resampling.lang_emb):
        by_task.setdefault(task, set()).add(emb.tobytes())
    goals = resampling.sample(40)["lang"][40:].numpy()
    assert all(any(g.tobytes() in sentences for sentences in by_task.values()) for g in goals)


@pytest.mark.parametrize("overrides", [[], ["agent.use_ditto=false"], ["agent.use_plan=false"],
                                       ["agent.use_alignment=false"], ["agent.method=mcil"],
                                       ["agent.method=gcbc"]])
def test_every_variant_trains_and_checkpoints(features, tmp_path, overrides):
    out, cfg = features
    cfg = load_config("debug", _state_overrides(cfg.data.dataset) + overrides)
    trainer = AgentTrainer(cfg, out / "feats", tmp_path, progress=False)
    path = trainer.fit(4)
    ckpt = load_checkpoint(path, kind="policy")
    assert set(ckpt.modules) == {"world_model", "behaviour"}
    assert ckpt.language_model_id.endswith("all-MiniLM-L6-v2")
    assert ckpt.extra["instructions"], "the trained instructions define the command domain"
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert lines and "windows_per_s" in json.loads(lines[-1])


def test_agent_resume_is_exact(features, tmp_path):
    out, cfg = features
    straight = AgentTrainer(cfg, out / "feats", tmp_path / "a", progress=False)
    straight.fit(6)
    first = AgentTrainer(cfg, out / "feats", tmp_path / "b", progress=False)
    first.fit(3)
    resumed = AgentTrainer(cfg, out / "feats", tmp_path / "b", progress=False)
    resumed.resume()
    assert resumed.step == 3
    resumed.fit(6)
    for (name, a), (_, b) in zip(straight.agent.behaviour.state_dict().items(),
                                 resumed.agent.behaviour.state_dict().items()):
        assert torch.equal(a, b), name


def test_resume_trains_at_the_configured_learning_rates(features, tmp_path):
    """Defect: resuming loaded the optimisers' saved learning rates, so `--resume --set
    agent_train.actor_lr=...` (and the ditto-progress rung's override) silently trained at
    the old rate; the moments are kept, the rates are the configuration's."""
    from dataclasses import replace

    out, cfg = features
    AgentTrainer(cfg, out / "feats", tmp_path, progress=False).fit(3)
    lower = replace(cfg, agent_train=replace(cfg.agent_train, actor_lr=1e-6, critic_lr=2e-6))
    resumed = AgentTrainer(lower, out / "feats", tmp_path, progress=False)
    resumed.resume()
    assert [g["lr"] for g in resumed.actor_opt.param_groups] == [1e-6]
    assert [g["lr"] for g in resumed.critic_opt.param_groups] == [2e-6]
    assert resumed.actor_opt.state                      # the moments came along


def test_resume_may_move_the_warm_up_boundary_but_not_the_model(features, tmp_path):
    """A warm-up continued longer (or cut short) or another imagination horizon on resume
    leave the weights alone: agent.bc_warmup and agent.horizon may change; an architecture
    key still names itself."""
    from dataclasses import replace

    from lumos_core.runs import OutputError

    out, cfg = features
    AgentTrainer(cfg, out / "feats", tmp_path, progress=False).fit(2)
    longer = replace(cfg, agent=replace(cfg.agent, bc_warmup=cfg.agent.bc_warmup + 5,
                                        horizon=cfg.agent.horizon // 2))
    resumed = AgentTrainer(longer, out / "feats", tmp_path, progress=False)
    resumed.resume()
    assert resumed.step == 2
    wider = replace(cfg, agent=replace(cfg.agent, actor_units=cfg.agent.actor_units + 8))
    with pytest.raises(OutputError, match="agent.actor_units"):
        AgentTrainer(wider, out / "feats", tmp_path, progress=False).resume()


def test_a_new_run_starts_from_another_policys_weights(features, tmp_path, sim_dataset):
    """--init-from: a new run (step 0, its own directory) with the behaviour weights and
    optimiser moments of a policy checkpoint, at its own rate; refused for another model
    configuration or another world model than the features'."""
    from dataclasses import replace

    from lumos_core.runs import OutputError

    out, cfg = features
    source = AgentTrainer(cfg, out / "feats", tmp_path / "src", progress=False)
    source.fit(3)
    slower = replace(cfg, agent_train=replace(cfg.agent_train, actor_lr=3e-5))
    tuned = AgentTrainer(slower, out / "feats", tmp_path / "ft", progress=False)
    tuned.init_from(tmp_path / "src" / "checkpoints" / "step_00000003")
    assert tuned.step == 0 and tuned.actor_opt.state
    assert [g["lr"] for g in tuned.actor_opt.param_groups] == [3e-5]
    for (name, a), (_, b) in zip(source.agent.behaviour.state_dict().items(),
                                 tuned.agent.behaviour.state_dict().items()):
        assert torch.equal(a, b), name
    path = tuned.fit(1)
    assert load_checkpoint(path, kind="policy").extra["initialised_from"].endswith(
        "step_00000003")

    wider = replace(cfg, agent=replace(cfg.agent, actor_units=cfg.agent.actor_units + 8))
    with pytest.raises(OutputError, match="--init-from: .*agent.actor_units"):
        AgentTrainer(wider, out / "feats", tmp_path / "w", progress=False).init_from(path)
    # another world model (trained one step more) behind other features: refused by name
    other_wm = WorldModelTrainer(cfg, tmp_path / "wm2", progress=False)
    other_wm.fit(4)
    featurize(other_wm.save("final"), sim_dataset[0], tmp_path / "feats2", progress=False)
    with pytest.raises(OutputError, match="not the one the features were computed with"):
        AgentTrainer(cfg, tmp_path / "feats2", tmp_path / "o", progress=False).init_from(path)
    # ... unless asked for (a world model fine-tuned from the policy's): the behaviour weights
    # move onto the features' world model, which the new run's checkpoints carry
    moved = AgentTrainer(cfg, tmp_path / "feats2", tmp_path / "m", progress=False)
    assert "not the policy's" in moved.init_from(path, other_world_model=True)
    for (name, a), (_, b) in zip(tuned.agent.behaviour.state_dict().items(),
                                 moved.agent.behaviour.state_dict().items()):
        assert torch.equal(a, b), name
    theirs = load_checkpoint(moved.fit(1), kind="policy").state_dict("world_model")
    for name, value in other_wm.model.state_dict().items():
        assert torch.equal(theirs[name], value.cpu()), name


def test_a_baseline_policy_is_continued_by_another_objective(features, tmp_path):
    """--init-from across methods: a GCBC policy continued by DITTO (LUMOS without plans or
    alignment) keeps every weight the two share, the actor's included, and starts its critic
    fresh; a LUMOS with plans (whose actor also reads the plan) is refused by weight name."""
    from dataclasses import replace

    from lumos_core.runs import OutputError

    out, cfg = features
    gcbc = replace(cfg, agent=replace(cfg.agent, method="gcbc"))
    source = AgentTrainer(gcbc, out / "feats", tmp_path / "src", progress=False)
    path = source.fit(2)
    # the exact DITTO objective of docs/agents.md (session 10): objective keys, not weights
    ditto = replace(cfg, agent=replace(cfg.agent, method="lumos", use_plan=False,
                                       use_alignment=False, reward_target="imagined",
                                       imagine_noise="common", imagine_action="mean"))
    tuned = AgentTrainer(ditto, out / "feats", tmp_path / "ft", progress=False)
    summary = tuned.init_from(path)
    fresh = summary.split("fresh: ")[1].split(";")[0].split(", ")
    assert {"critic", "target_critic"} <= set(fresh) and "actor" not in fresh
    assert "new optimiser moments" in summary
    theirs = source.agent.behaviour.state_dict()
    ours = tuned.agent.behaviour.state_dict()
    assert any(k.startswith("actor.") for k in theirs)
    for name, value in theirs.items():
        assert torch.equal(value, ours[name]), name
    assert tuned.fit(1).is_dir()
    with pytest.raises(OutputError, match="--init-from: .*other shapes.*actor"):
        AgentTrainer(cfg, out / "feats", tmp_path / "plan", progress=False).init_from(path)


def test_policy_in_the_harness(features, tmp_path, encoder):
    out, cfg = features
    trainer = AgentTrainer(cfg, out / "feats", tmp_path / "run", progress=False)
    path = trainer.fit(2)
    policy = LumosPolicy(path, encoder=encoder)
    obs = {"robot_obs": np.zeros(15, np.float32), "scene_obs": np.zeros(24, np.float32)}
    policy.reset()
    actions = [policy.step(obs, "open the drawer") for _ in range(cfg.agent.replan_every + 1)]
    for a in actions:
        assert a.shape == (7,) and np.all(np.abs(a) <= 1) and a[6] in (-1.0, 1.0)
    assert policy.counter == cfg.agent.replan_every + 1
    with pytest.raises(ValueError, match="384 values"):
        policy.step(obs, np.zeros(5))
    adapter = CalvinModelAdapter(path)
    adapter.policy._encoder = encoder
    adapter.reset()
    assert adapter.step({"robot_obs": np.zeros(15), "scene_obs": np.zeros(24)},
                        "open the drawer").shape == (7,)
    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    report = evaluate(str(path), load_chains()[:1], instructions, [0], tmp_path / "eval",
                      progress=False, max_steps=5)
    assert report["summary"]["seeds"] == 1 and (tmp_path / "eval" / "results.md").exists()


def test_latent_bc_rung_trains_on_features_and_filters_at_control_time(
        features, sim_dataset, tmp_path):
    """Rung d0: the state-BC network on the world model's filtered latents of the same frames;
    its policy filters observations like LumosPolicy (h depends on the history)."""
    from lumos_core import ladder

    out, cfg = features
    root = sim_dataset[0]
    with pytest.raises(ladder.LadderError, match="--features"):
        ladder.train_state_bc(root, tmp_path / "x", "task", steps=2, inputs="h")
    info = ladder.train_state_bc(root, tmp_path / "h", "task", steps=20, batch=16,
                                 progress=False, inputs="h", features=out / "feats")
    assert info["inputs"] == "h" and np.isfinite(info["final_mse"])
    policy = ladder.StateBCPolicy(tmp_path / "h", {"open it": "open_drawer"})
    assert policy.net.net[0].in_features == cfg.world_model.deter + 27
    obs = {"robot_obs": np.zeros(15), "scene_obs": np.zeros(24)}
    policy.seed(1)
    first = policy.step(obs, "open it")
    h1 = policy.filter_state.h.clone()
    policy.step(obs, "open it")
    assert not torch.equal(h1, policy.filter_state.h)      # the filter carries history
    policy.reset()
    policy.seed(1)
    assert np.allclose(policy.step(obs, "open it"), first)  # reset restarts the filter


def test_decoded_rung_reads_the_latent_through_the_world_models_state_decoder(
        features, sim_dataset, tmp_path):
    """Rung d0 'decoded': the same network on the world model's reconstruction of the state
    from its filtered latents (2.12 against 0.97 on h, docs/agents.md); at control time the
    policy filters and decodes exactly as the features were made."""
    from lumos_core import ladder
    from lumos_core.featurize import Features, load_world_model

    out, cfg = features
    root = sim_dataset[0]
    info = ladder.train_state_bc(root, tmp_path / "d", "task", steps=20, batch=16,
                                 progress=False, inputs="decoded", features=out / "feats")
    assert info["inputs"] == "decoded"
    policy = ladder.StateBCPolicy(tmp_path / "d", {"open it": "open_drawer"})
    assert policy.net.net[0].in_features == 39 + 27
    feats = Features(out / "feats" / "training")
    wm, _ = load_world_model(feats.meta["checkpoint"])
    row = np.asarray(feats.arrays["features"][:2], np.float32)
    decoded = ladder.decoded_state(wm, row)
    assert decoded.shape == (2, 39) and np.isfinite(decoded).all()
    obs = {"robot_obs": np.zeros(15), "scene_obs": np.zeros(24)}
    assert policy.step(obs, "open it").shape == (7,)
    # the diagnostic: a true-state network that sees the decoded state in place of chosen
    # dimensions (none here: it must act exactly as on the true state)
    ladder.train_state_bc(root, tmp_path / "s", "task", steps=5, batch=16, progress=False)
    data = torch.load(tmp_path / "s" / ladder.STATE_BC_FILE, weights_only=False)
    data.update(observe_through=feats.meta["checkpoint"], observe_through_dims=[])
    (tmp_path / "t").mkdir()
    torch.save(data, tmp_path / "t" / ladder.STATE_BC_FILE)
    plain = ladder.StateBCPolicy(tmp_path / "s", {"open it": "open_drawer"})
    through = ladder.StateBCPolicy(tmp_path / "t", {"open it": "open_drawer"})
    assert np.allclose(plain.step(obs, "open it"), through.step(obs, "open it"))
    made = ladder.observe_through(tmp_path / "s", feats.meta["checkpoint"], tmp_path / "u",
                                  "tcp-position")
    tcp = ladder.StateBCPolicy(made, {"open it": "open_drawer"})
    assert list(tcp.through_dims) == [0, 1, 2]
    assert np.isfinite(tcp.step(obs, "open it")).all()
    with pytest.raises(ladder.LadderError, match="not on the true state"):
        ladder.observe_through(tmp_path / "d", feats.meta["checkpoint"], tmp_path / "v")


def test_ditto_optimum_optimises_action_sequences_against_the_expert(features):
    """The rung-(e) diagnostic: optimising the actions for the DITTO reward raises the reward
    and reports how far the optimum lies from the expert's actions."""
    from lumos_core import ladder

    out, _ = features
    rows = ladder.ditto_optimum(out / "feats", ["agent.reward_norm=start"], windows=4,
                                iterations=3, lr=0.2, simulate=True)
    names = [r["actions"] for r in rows]
    assert names == ["expert", "hold still", "random", "optimised from hold still",
                     "optimised from expert"]
    assert rows[0]["mse_to_expert"] == 0.0 and rows[1]["mse_to_expert"] > 0
    assert all(np.isfinite(r["reward"]) for r in rows)
    assert rows[3]["steps"] == 3 and rows[3]["mse_to_expert"] != rows[1]["mse_to_expert"]
    # executed in the simulator from the recorded start: the expert's own actions end where
    # the recording does (up to contact noise), holding still does not
    assert rows[0]["tcp_end_mm"] < rows[1]["tcp_end_mm"]
    assert all(np.isfinite(r["scene_end"]) for r in rows)


def test_bc_warmup_ends_at_half_of_a_time_budget(features, tmp_path):
    """Defect: a time-budgeted LUMOS training that shared the cores spent its whole budget in
    the 1 200-batch BC warm-up (1 125 batches, no DITTO update): the warm-up now ends at half
    of the budget at the latest."""
    import time

    out, cfg = features
    cfg = load_config("debug", _state_overrides(cfg.data.dataset) + ["agent.bc_warmup=1000"])
    trainer = AgentTrainer(cfg, out / "feats", tmp_path, progress=False)
    assert trainer.in_warmup()                         # no time budget: by batches only
    trainer.warmup_deadline = time.monotonic() - 1     # half of the budget has passed
    assert not trainer.in_warmup()
    trainer.warmup_deadline = time.monotonic() + 60
    assert trainer.in_warmup()
    trainer.step = 1000
    assert not trainer.in_warmup()


@pytest.mark.parametrize("every", [0, 1])
def test_critic_warms_up_on_imagined_rollouts_of_the_bc_actor(features, tmp_path, every):
    """Defect: with a BC warm-up the critic stayed at its initialisation until DITTO began,
    and the first DITTO updates bootstrapped from a critic that valued nothing (the BC error
    tripled at the switch). ``agent.critic_warmup_every`` trains it on imagined rollouts of
    the BC actor during the warm-up; the actor still learns by BC only."""
    out, cfg = features
    cfg = load_config("debug", _state_overrides(cfg.data.dataset) + [
        "agent.bc_warmup=1000", f"agent.critic_warmup_every={every}"])
    trainer = AgentTrainer(cfg, out / "feats", tmp_path, progress=False)
    critic = [p.detach().clone() for p in trainer.agent.behaviour.critic.parameters()]
    metrics = [trainer.train_step() for _ in range(3)]
    moved = any(not torch.equal(a, b) for a, b in
                zip(critic, trainer.agent.behaviour.critic.parameters()))
    assert moved == bool(every)
    assert all(("critic_loss" in m) == bool(every) and "bc_mse" in m for m in metrics)


def test_ditto_progress_measures_the_exact_objective_while_training(features, tmp_path):
    """The rung-(e) machinery diagnostic: from a warm-up checkpoint, DITTO batches of the
    checkpoint's configuration change the actor, and the exact objective (fixed windows,
    fixed noise: the same figure for the same actor) is measured on schedule."""
    from lumos_core import ladder
    from lumos_core.ladder import LadderError

    out, cfg = features
    sets = _state_overrides(cfg.data.dataset) + ["agent.bc_warmup=2",
                                                 "agent.reward_target=imagined"]
    trainer = AgentTrainer(load_config("debug", sets), out / "feats", tmp_path / "warm",
                           progress=False)
    warm = trainer.fit(2)
    rows = ladder.ditto_progress(warm, out / "feats", ["agent.bootstrap=none"], updates=3,
                                 every=2, windows=4)
    assert [r["update"] for r in rows] == [0, 2, 3]
    assert all(np.isfinite(r["reward"]) and r["reward"] <= 1 + 1e-5 for r in rows)
    assert np.isnan(rows[0]["train_reward"]) and np.isfinite(rows[1]["train_reward"])
    assert rows[1]["reward"] != rows[0]["reward"]      # the actor trained
    again = ladder.ditto_progress(warm, out / "feats", ["agent.bootstrap=none"], updates=1,
                                  every=1, windows=4, simulate=True)
    assert all(np.isfinite(r["tcp_end_mm"]) for r in again)
    assert again[0]["expert_tcp_end_mm"] < again[0]["tcp_end_mm"]   # the replayed expert
    assert (again[0]["reward"], again[0]["bc_mse"]) == (rows[0]["reward"], rows[0]["bc_mse"])
    gcbc = AgentTrainer(load_config("debug", sets + ["agent.method=gcbc"]), out / "feats",
                        tmp_path / "gcbc", progress=False).fit(1)
    with pytest.raises(LadderError, match="imagining agent"):
        ladder.ditto_progress(gcbc, out / "feats", updates=1)


def test_ditto_takes_over_at_its_own_learning_rate(features, tmp_path):
    """agent_train.ditto_lr: the BC warm-up trains at actor_lr, DITTO at ditto_lr (the
    located rung-(e) defect: DITTO at the warm-up's 1e-3 undid the warm start); 0 keeps
    actor_lr throughout; the no-DITTO ablation switches too, the BC baselines never."""
    out, cfg = features
    sets = _state_overrides(cfg.data.dataset) + ["agent.bc_warmup=2",
                                                 "agent_train.actor_lr=0.001"]
    trainer = AgentTrainer(load_config("debug", sets + ["agent_train.ditto_lr=0.00001"]),
                           out / "feats", tmp_path / "a", progress=False)
    rates = []
    for _ in range(4):
        trainer.train_step()
        rates.append(trainer.actor_opt.param_groups[0]["lr"])
    assert rates == [1e-3, 1e-3, 1e-5, 1e-5]
    same = AgentTrainer(load_config("debug", sets), out / "feats", tmp_path / "b",
                        progress=False)
    for _ in range(3):
        same.train_step()
    assert same.actor_opt.param_groups[0]["lr"] == 1e-3
    gcbc = AgentTrainer(load_config("debug", sets + ["agent_train.ditto_lr=0.00001",
                                                     "agent.method=gcbc"]),
                        out / "feats", tmp_path / "c", progress=False)
    for _ in range(3):
        gcbc.train_step()
    assert gcbc.actor_opt.param_groups[0]["lr"] == 1e-3
    # the no-DITTO ablation follows LUMOS's schedule (BC at ditto_lr after the warm-up): a
    # Table I ablation must differ from LUMOS in DITTO only (session 13: the rate drop alone
    # lifted a warm start from 0.22 to 0.39)
    bc = AgentTrainer(load_config("debug", sets + ["agent_train.ditto_lr=0.00001",
                                                   "agent.use_ditto=false"]),
                      out / "feats", tmp_path / "d", progress=False)
    bc_rates = []
    for _ in range(3):
        bc.train_step()
        bc_rates.append(bc.actor_opt.param_groups[0]["lr"])
    assert bc_rates == [1e-3, 1e-3, 1e-5]


def test_every_method_anneals_at_the_same_batch(features, tmp_path):
    """agent_train.anneal_at: from that batch on every method trains at anneal_lr -- the BC
    baselines too (the `long` Table I profile: 13 232 batches at 1e-3, then 1 000 at 3e-5 for
    every row, as the session-22-24 recipes did by resuming at another rate)."""
    out, cfg = features
    sets = _state_overrides(cfg.data.dataset) + ["agent_train.actor_lr=0.001",
                                                 "agent_train.anneal_at=2",
                                                 "agent_train.anneal_lr=0.00002"]
    for method in ("gcbc", "mcil", "lumos"):
        trainer = AgentTrainer(load_config("debug", sets + [f"agent.method={method}"]),
                               out / "feats", tmp_path / method, progress=False)
        rates = []
        for _ in range(4):
            trainer.train_step()
            rates.append(trainer.actor_opt.param_groups[0]["lr"])
        assert rates == [1e-3, 1e-3, 2e-5, 2e-5], method


def test_compiled_trainings_write_checkpoints_that_load_eagerly(features, tmp_path,
                                                                monkeypatch):
    """``wm_train.compile=always`` / ``agent_train.compile=always`` reach both trainers (two
    updates each, with the ``aot_eager`` backend: dynamo and AOTAutograd without code
    generation, see test_compile.py), their checkpoints load into eager models, and the
    compiled agent training's weights are the eager training's."""
    import lumos_core.compile as comp
    from lumos_core.world_model import WorldModel

    monkeypatch.setattr(comp, "BACKEND", "aot_eager")
    out, cfg = features
    root = cfg.data.dataset
    wm_cfg = load_config("debug", _state_overrides(root) + ["wm_train.compile=always"])
    wm = WorldModelTrainer(wm_cfg, tmp_path / "wm", progress=False)
    assert wm.compiled
    wm.fit(2)
    eager = WorldModel(wm.cfg.world_model)
    eager.load_state_dict(load_checkpoint(wm.save("final")).state_dict("world_model"))
    # fp32: in bf16 the compiled graph may round at other points than eager autocast
    fp32 = ["agent_train.precision=fp32"]
    agent_cfg = load_config("debug",
                            _state_overrides(root) + fp32 + ["agent_train.compile=always"])
    trainer = AgentTrainer(agent_cfg, out / "feats", tmp_path / "agent", progress=False)
    assert trainer.compiled
    policy = LumosPolicy(trainer.fit(2))
    assert np.isfinite(policy.act(torch.zeros(1, policy.cfg.world_model.feat_dim),
                                  np.zeros(384, np.float32))).all()
    torch._dynamo.reset()
    eager_cfg = load_config("debug", _state_overrides(root) + fp32)
    eager_run = AgentTrainer(eager_cfg, out / "feats", tmp_path / "eager", progress=False)
    assert not eager_run.compiled
    eager_weights = load_checkpoint(eager_run.fit(2)).state_dict("behaviour")
    weights = load_checkpoint(trainer.run_dir / "checkpoints" / "step_00000002"
                              ).state_dict("behaviour")
    assert weights.keys() == eager_weights.keys()
    for key, value in eager_weights.items():
        assert torch.allclose(weights[key], value, rtol=1e-4, atol=1e-5), key


def test_auto_compiles_a_training_only_where_it_pays(features, tmp_path, monkeypatch):
    """``agent_train.compile=auto`` (the default) decides when training starts, from the
    batches to come: a long imagining training runs the compiled loss, a short one and a BC
    baseline the eager one (lumos_core.compile.agent_compile_pays)."""
    import lumos_core.compile as comp

    monkeypatch.setattr(comp, "BACKEND", "aot_eager")
    monkeypatch.setattr(comp, "AUTO_MIN_BATCHES", 3)
    monkeypatch.setattr(comp, "AUTO_MIN_HORIZON", 2)
    out, cfg = features
    root = cfg.data.dataset
    fp32 = ["agent_train.precision=fp32"]
    for overrides, steps, compiled in (([], 2, False), ([], 3, True),
                                       (["agent.method=gcbc"], 3, False)):
        trainer = AgentTrainer(load_config("debug", _state_overrides(root) + fp32 + overrides),
                               out / "feats", tmp_path / f"{steps}{overrides}", progress=False)
        assert not trainer.compiled
        trainer.fit(steps)
        assert trainer.compiled == compiled, (overrides, steps)
        assert (trainer.loss_terms == trainer.agent.loss_terms) != compiled
    torch._dynamo.reset()


def test_features_are_reused_for_every_checkpoint_holding_their_world_model(features, tmp_path):
    """Regression (session 35): a benchmark given a policy exported on the features' world
    model featurized the whole play again (22 min per run on 600 000 frames), because reuse
    compared the checkpoint's weight-file checksum, which the policy's other weights change.
    Reuse now compares the world model itself (and the dataset)."""
    from lumos_core.checkpoint import WEIGHTS, read_meta
    from lumos_core.featurize import features_match

    out, cfg = features
    meta = json.loads((out / "feats" / "meta.json").read_text())
    wm = Path(meta["checkpoint"])
    policy = AgentTrainer(cfg, out / "feats", tmp_path / "agent", progress=False).fit(1)
    assert read_meta(policy)["files"][WEIGHTS]["sha256"] != meta["weights_sha256"]
    assert features_match(out / "feats", wm, meta["dataset"])
    assert features_match(out / "feats", policy, meta["dataset"])
    assert not features_match(out / "feats", policy, tmp_path)          # another dataset
    other = WorldModelTrainer(cfg, tmp_path / "wm2", progress=False)
    other.fit(4)
    assert not features_match(out / "feats", other.save("final"))       # another world model
    old = {k: v for k, v in meta.items() if k != "world_model_sha256"}  # before session 35
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "meta.json").write_text(json.dumps(old))
    assert features_match(tmp_path / "old", wm) and not features_match(tmp_path / "old", policy)
