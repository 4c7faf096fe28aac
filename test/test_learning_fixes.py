"""Regression tests of the defects the learning ladder found (issue: learning that works).

Each test names the defect it guards against."""

import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lumos_core.agent import LumosAgent
from lumos_core.config import CollectConfig, SimConfig, load_config
from lumos_core.data.calvin import canonical_robot_obs
from lumos_core.paths import config_file
from lumos_core.world_model import WorldModel


def test_roll_wrap_is_continuous_for_the_model():
    """Defect: TCP roll jumps between -pi and pi (std 3.08): a tiny tilt read as 2 units."""
    a = np.zeros((2, 15), np.float32)
    a[0, 3], a[1, 3] = math.pi - 1e-3, -math.pi + 1e-3
    c = canonical_robot_obs(a)
    assert abs(c[0, 3] - c[1, 3]) < 3e-3
    assert a[1, 3] < 0 < c[1, 3]            # a copy; the input is untouched
    t = canonical_robot_obs(torch.as_tensor(a))
    assert torch.allclose(t, torch.as_tensor(c))
    cfg = load_config("debug", ["world_model.obs_mode=state"])
    wm = WorldModel(cfg.world_model)
    obs = {"robot_obs": torch.as_tensor(a), "scene_obs": torch.zeros(2, 24)}
    x = wm.vector_targets(obs)
    assert torch.allclose(x[0], x[1], atol=1e-2)


def test_statistics_of_collected_play_use_the_canonical_roll(sim_dataset):
    from lumos_core.data.calvin import read_statistics

    root, _, _ = sim_dataset
    stats = read_statistics(root / "training")
    assert 2.5 < stats["robot_obs"]["mean"][3] < 3.8      # around pi, not around 0
    assert stats["robot_obs"]["std"][3] < 1.0


def test_bc_heads_act_with_the_mean_by_default(policy_checkpoint):
    """Defect: BC heads never train their std, yet the policy sampled tanh(mean + std * eps)."""
    from lumos_core.policy import LumosPolicy

    assert load_config("state").agent.action_mode == "mean"
    policy = LumosPolicy(policy_checkpoint)
    assert policy.action_mode == "mean"
    feat = torch.randn(1, policy.cfg.world_model.feat_dim)
    emb = np.ones(384, np.float32) / np.sqrt(384)
    policy.reset()
    first = policy.act(feat, emb)          # plans once; the second call keeps that plan
    assert np.allclose(first, policy.act(feat, emb))
    policy.action_mode = "sample"
    assert not np.allclose(first, policy.act(feat, emb))


def test_predict_steps_the_prior_after_the_previous_action(policy_checkpoint):
    """The open-loop step of the from-play rung: the world model's prior after the executed
    action, from the filtered state; before any observation it is refused."""
    from lumos_core.policy import LumosPolicy

    policy = LumosPolicy(policy_checkpoint)
    with pytest.raises(RuntimeError, match="needs a filtered state"):
        policy.predict()
    obs = {"robot_obs": np.zeros(15, np.float32), "scene_obs": np.zeros(24, np.float32)}
    policy.filter(obs)
    policy.set_previous_action(np.array([0.2, 0, 0, 0, 0, 0, 1], np.float32))
    before = policy.state
    with torch.no_grad():
        expected_h = policy.world_model.rssm.deter_step(before, policy.prev_action)
    feat = policy.predict()
    assert feat.shape == (1, policy.cfg.world_model.feat_dim)
    deter = policy.cfg.world_model.deter
    assert torch.allclose(policy.state.h, expected_h)
    assert torch.equal(feat[:, :deter], policy.state.h)
    assert not torch.allclose(policy.state.h, before.h)
    assert policy.filter_steps == 1


def test_previous_action_is_copied_not_binarised_in_the_callers_array(policy_checkpoint,
                                                                      tmp_path):
    """Defect: set_previous_action binarised the gripper in place in the caller's array; a
    read-only memory map of a dataset (the from-play rung) crashed the process."""
    from lumos_core.policy import LumosPolicy

    policy = LumosPolicy(policy_checkpoint)
    action = np.array([0.1, 0, 0, 0, 0, 0, 0.3], np.float32)
    policy.set_previous_action(action)
    assert action[6] == np.float32(0.3) and float(policy.prev_action[0, 6]) == 1.0
    np.save(tmp_path / "a.npy", action[None])
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    policy.set_previous_action(mapped[0])
    assert float(policy.prev_action[0, 6]) == 1.0 and mapped[0, 6] == np.float32(0.3)


def test_annotation_density_counts_windows_per_frame_and_windows_cover_the_task(tmp_path):
    """Defect: lang_fraction meant 'frames covered', ~60x below CALVIN's windows per frame;
    fixed 64-frame windows cut the approach off long tasks and carried other behaviour."""
    from lumos_core.data.calvin import read_annotations, read_episode_meta
    from lumos_core.sim.collect import MIN_LANG_WINDOW, collect

    class FakeEncoder:
        model_id = "fake"

        def encode(self, texts):
            return np.ones((len(texts), 384), np.float32) / np.sqrt(384)

    from lumos_core.instructions import load_instruction_file

    instructions = load_instruction_file(config_file("sim_instructions_train.yaml"))
    cfg = CollectConfig(frames=600, episode_length=600, validation_fraction=0.0, workers=1,
                        lang_density=0.005, seed=5)
    summary = collect(tmp_path, SimConfig(render=False), cfg, instructions, FakeEncoder(),
                      progress=False)
    events = [e for m in read_episode_meta(tmp_path / "training") for e in m["events"]]
    assert len(events) >= 4
    assert summary["training"]["annotations"] == min(len(events), 3)     # 0.005 * 600
    ann = read_annotations(tmp_path / "training")
    by_end = {e["end"]: e for e in events}
    for (s, e), task in zip(ann["info"]["indx"], ann["language"]["task"]):
        event = by_end[int(e)]
        assert event["task"] == task
        assert s == max(min(event["start"], e - MIN_LANG_WINDOW + 1), e - cfg.lang_window + 1)
    # every completion at a density above the completion rate
    dense = collect(tmp_path, SimConfig(render=False), replace(cfg, lang_density=0.05),
                    instructions, FakeEncoder(), progress=False)
    assert dense["training"]["annotations"] == len(events)


def test_balanced_task_choice_prefers_rare_tasks():
    """Defect: fixture tasks ~55 completions each, pushes and rotations ~10."""
    from lumos_core.sim.play import choose_task

    rng = np.random.default_rng(0)
    feasible = ["open_drawer", "push_red_block_left", "rotate_red_block_left"]
    counts = {"open_drawer": 5, "push_red_block_left": 0, "rotate_red_block_left": 0}
    picks = Counter(choose_task(feasible, rng, counts) for _ in range(2000))
    assert picks["open_drawer"] < 0.05 * 2000
    assert abs(picks["push_red_block_left"] - picks["rotate_red_block_left"]) < 200


def test_play_passes_through_the_evaluation_start_pose():
    """Defect: chains start at the neutral pose (TCP z 0.38); 0.5 % of play frames were
    above z = 0.30."""
    from lumos_core.sim.env import PlayTableEnv
    from lumos_core.sim.play import PlayRecorder

    cfg = CollectConfig(home_prob=0.5, pause_prob=0.0, free_motion_prob=0.0)
    with PlayTableEnv(SimConfig(render=False)) as env:
        recorder = PlayRecorder(env, cfg, np.random.default_rng(0))
        frames, _ = recorder.episode(600, 0)
        high = (frames["robot_obs"][:, 2] > 0.30).mean()
        recorder = PlayRecorder(env, replace(cfg, home_prob=0.0), np.random.default_rng(0))
        frames, _ = recorder.episode(600, 0)
        low = (frames["robot_obs"][:, 2] > 0.30).mean()
    assert high > 0.1 > 0.05 > low and high > 4 * low


def test_play_starts_tasks_where_a_completion_left_the_robot():
    """Defect: play always ran the expert's plan to its end (rise, let go) before the next task,
    while an evaluation chain gives the next instruction the moment the oracle sees a subtask
    done; later subtasks started from states no training window starts from."""
    from lumos_core.sim.env import PlayTableEnv
    from lumos_core.sim.play import PlayRecorder

    cfg = CollectConfig(home_prob=0.0, pause_prob=0.0, free_motion_prob=0.0)
    gaps = {}
    with PlayTableEnv(SimConfig(render=False)) as env:
        for prob in (0.0, 1.0):
            recorder = PlayRecorder(env, replace(cfg, interrupt_prob=prob),
                                    np.random.default_rng(0))
            _, events = recorder.episode(800, 0)
            assert len(events) >= 4
            # frames between one task's completion and the start of the next
            gaps[prob] = [b["start"] - a["end"] for a, b in zip(events, events[1:])]
    assert all(g == 1 for g in gaps[1.0])
    assert min(gaps[0.0]) > 1


def test_multimodal_play_records_completed_tasks_and_older_data_reads_as_one_mode(tmp_path):
    """collect.multimodal reaches the play's expert, its play completes tasks as the one-mode
    play does, and a collect.json recorded before the setting existed reads as one mode."""
    import json

    from lumos_core.sim.collect import recorded_settings
    from lumos_core.sim.env import PlayTableEnv
    from lumos_core.sim.play import PlayRecorder

    cfg = CollectConfig(home_prob=0.0, pause_prob=0.0, free_motion_prob=0.0, multimodal=True)
    with PlayTableEnv(SimConfig(render=False)) as env:
        recorder = PlayRecorder(env, cfg, np.random.default_rng(0))
        assert recorder.expert.multimodal
        _, events = recorder.episode(800, 0)
    assert len(events) >= 4, events
    (tmp_path / "collect.json").write_text(json.dumps({"sim": {}, "collect": {"frames": 10}}))
    assert recorded_settings(tmp_path)[1].multimodal is False


def test_data_recorded_before_interruptions_keep_their_setting(tmp_path):
    """A collect.json without ``interrupt_prob`` was recorded with every plan run to its end."""
    import json

    from lumos_core.sim.collect import recorded_settings

    (tmp_path / "collect.json").write_text(json.dumps({"sim": {}, "collect": {"frames": 10}}))
    assert recorded_settings(tmp_path)[1].interrupt_prob == 0.0
    assert CollectConfig().interrupt_prob == 0.5


def test_training_paraphrases_are_many_varied_and_disjoint_from_evaluation():
    train = yaml.safe_load(config_file("sim_instructions_train.yaml").read_text())
    evaluation = yaml.safe_load(config_file("sim_instructions_eval.yaml").read_text())
    assert set(train) == set(evaluation)
    assert min(len(v) for v in train.values()) >= 10
    words = " ".join(s for v in train.values() for s in v).split()
    for synonym in ("cube", "block", "shove", "push", "lamp", "bulb", "panel"):
        assert synonym in words
    assert not {s for v in train.values() for s in v} & {s for v in evaluation.values()
                                                         for s in v}


def test_filter_warmup_is_the_same_in_featurize_and_policy():
    """Defect: after reset() the filtered h needed ~10 steps to resemble the long-history
    latents the actor trained on; the warm-up is one definition (WorldModel.start)."""
    cfg = load_config("debug", ["world_model.obs_mode=state", "world_model.filter_warmup=5"])
    torch.manual_seed(0)
    wm = WorldModel(cfg.world_model).eval()
    obs = {"robot_obs": torch.randn(3, 1, 15), "scene_obs": torch.randn(3, 1, 24)}
    torch.manual_seed(1)
    _, one = wm.start(obs, warmup=0)
    torch.manual_seed(1)
    _, warm = wm.start(obs)
    assert warm.shape == one.shape == (3, cfg.world_model.feat_dim)
    deter = cfg.world_model.deter
    assert not torch.allclose(one[:, :deter], warm[:, :deter])


def test_reward_standardisation_and_bc_term_and_h_only_actor():
    cfg = load_config("debug", ["agent.reward_norm=standardize", "agent.ditto_bc_scale=1.0",
                                "agent.actor_latent=h", "agent.use_plan=false",
                                "agent.use_alignment=false"])
    torch.manual_seed(0)
    agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
    deter = cfg.world_model.deter
    feats = torch.randn(500, cfg.world_model.feat_dim) * 3 + 2
    agent.set_reward_statistics(feats)
    x = agent.reward_part(feats)
    assert x.shape == (500, deter)
    assert torch.allclose(x.mean(0), torch.zeros(deter), atol=1e-4)
    assert torch.allclose(x.std(0), torch.ones(deter), atol=1e-3)
    assert agent.behaviour.actor[0].in_features == deter + cfg.agent.goal_dim
    t = cfg.agent.max_window
    batch = {"feat": torch.randn(4, t, cfg.world_model.feat_dim),
             "actions": torch.rand(4, t, 7) * 2 - 1, "mask": torch.ones(4, t, dtype=torch.bool),
             "lang": torch.randn(4, 384), "is_lang": torch.tensor([True, True, False, False]),
             "align": torch.zeros(4, dtype=torch.bool)}
    policy, critic, metrics = agent.losses(batch)
    assert critic is not None and "bc_mse" in metrics and "reward" in metrics
    # the statistics travel with the behaviour model's state dict (the policy checkpoint)
    assert "reward_mean" in agent.behaviour.state_dict()


@pytest.mark.parametrize("goal", ["task", "language"])
def test_state_bc_rung_trains_and_acts(tmp_path, sim_dataset, goal, monkeypatch):
    from lumos_core import ladder

    root, _, _ = sim_dataset
    info = ladder.train_state_bc(root, tmp_path / goal, goal, steps=30, batch=32,
                                 progress=False)
    assert info["windows"] > 0 and np.isfinite(info["final_mse"])
    assert ladder.is_state_bc(tmp_path / goal)
    if goal == "language":
        monkeypatch.setattr("lumos_core.language.shared_encoder",
                            lambda: type("E", (), {"encode_one": staticmethod(
                                lambda text: np.ones(384, np.float32) / np.sqrt(384))})())
    policy = ladder.StateBCPolicy(tmp_path / goal, {"open it": "open_drawer"})
    action = policy.step({"robot_obs": np.zeros(15), "scene_obs": np.zeros(24)}, "open it")
    assert action.shape == (7,) and abs(action[6]) == 1.0


def test_language_windows_per_task_subset_is_nested_and_capped():
    from lumos_core.agent_data import WindowSampler

    tasks = ["a"] * 30 + ["b"] * 5 + ["c"] * 12
    small, large = WindowSampler.subset(tasks, 2), WindowSampler.subset(tasks, 10)
    assert small <= large
    count = Counter(tasks[i] for i in large)
    assert count == {"a": 10, "b": 5, "c": 10}
    assert WindowSampler.subset(tasks, 0) == set(range(len(tasks)))


def test_paraphrase_pools_draw_only_sentences_of_the_same_task():
    """agent.resample_goal / ladder --resample-goal: a window's goal is any annotated
    paraphrase of its task, never another task's."""
    from lumos_core.agent_data import ParaphrasePools

    emb = np.array([[1.0, 0], [2, 0], [1, 0], [0, 1], [0, 3]], np.float32)
    pools = ParaphrasePools(["a", "a", "a", "b", "b"], emb)
    assert pools.count.tolist() == [2, 2]              # duplicates counted once
    rng = np.random.default_rng(0)
    drawn = pools.draw(np.array([0, 3] * 200), rng).numpy()
    assert {tuple(v) for v in drawn[0::2]} == {(1.0, 0.0), (2.0, 0.0)}
    assert {tuple(v) for v in drawn[1::2]} == {(0.0, 1.0), (0.0, 3.0)}


@pytest.mark.parametrize("options", [{"resample_goal": True}, {"task_loss": 1.0},
                                     {"task_loss": 1.0, "goal_posterior": "soft"},
                                     {"task_loss": 1.0, "goal_posterior": "hard"}])
def test_state_bc_language_options_train_and_act(tmp_path, sim_dataset, options, monkeypatch):
    from lumos_core import ladder

    root, _, _ = sim_dataset
    info = ladder.train_state_bc(root, tmp_path / "c", "language", steps=30, batch=32,
                                 progress=False, **options)
    assert np.isfinite(info["final_mse"])
    assert info["resample_goal"] == options.get("resample_goal", False)
    monkeypatch.setattr("lumos_core.language.shared_encoder",
                        lambda: type("E", (), {"encode_one": staticmethod(
                            lambda text: np.ones(384, np.float32) / np.sqrt(384))})())
    policy = ladder.StateBCPolicy(tmp_path / "c", {"open it": "open_drawer"})
    assert (policy.net.goal_encoder is not None) == ("task_loss" in options)
    assert policy.net.posterior == options.get("goal_posterior", "")
    action = policy.step({"robot_obs": np.zeros(15), "scene_obs": np.zeros(24)}, "open it")
    assert action.shape == (7,) and abs(action[6]) == 1.0


def test_state_bc_language_options_need_a_language_goal(tmp_path):
    from lumos_core import ladder

    with pytest.raises(ladder.LadderError, match="goal 'language'"):
        ladder.train_state_bc(tmp_path, tmp_path / "x", "task", task_loss=1.0)
    with pytest.raises(ladder.LadderError, match="task_loss > 0"):
        ladder.train_state_bc(tmp_path, tmp_path / "x", "language", goal_posterior="soft")
    with pytest.raises(ladder.LadderError, match="goal_posterior must be one of"):
        ladder.train_state_bc(tmp_path, tmp_path / "x", "language", task_loss=1.0,
                              goal_posterior="sharp")


def test_ladder_replay_recompletes_recorded_tasks(sim_dataset):
    """Rung (a): the action path round trip on the fixture's recorded completions."""
    from lumos_core import ladder

    root, _, _ = sim_dataset
    result = ladder.replay(root, "training", events=20, progress=False)
    assert result["replayed"] >= 1
    assert result["re_completed"] >= 0.75 * result["replayed"]


def test_ladder_from_play_runs_policies_from_recorded_starts(sim_dataset, policy_checkpoint):
    """Rung (e) diagnostic: closed loop from the play data's starts. The scripted expert
    completes the recorded tasks from there; a random-weight checkpoint runs through the same
    starts with its filter warmed on the recorded history, and the same seed gives the same
    events; bad settings name what was expected."""
    from lumos_core import ladder

    root, _, _ = sim_dataset
    expert = ladder.from_play("expert", root, events=6, max_steps=200, progress=False)
    assert expert["events"] >= 1 and expert["history"] == 0      # the expert has no filter
    assert expert["success"] >= 0.5 * expert["events"]
    assert sum(v["total"] for v in expert["per_task"].values()) == expert["events"]
    runs = [ladder.from_play(str(policy_checkpoint), root, events=6, max_steps=20,
                             progress=False) for _ in range(2)]
    assert runs[0]["per_task"].keys() == expert["per_task"].keys() == runs[1]["per_task"].keys()
    assert runs[0]["history"] == 16
    assert [o["start_frame"] for o in runs[0]["outcomes"]] == \
        [o["start_frame"] for o in runs[1]["outcomes"]] == \
        [o["start_frame"] for o in expert["outcomes"]]          # paired across policies
    neutral = ladder.from_play("random", root, events=6, max_steps=20, robot_start="neutral",
                               instructions="train", progress=False)
    assert neutral["history"] == 0 and neutral["events"] == expert["events"]
    blind = ladder.from_play(str(policy_checkpoint), root, events=6, max_steps=20,
                             observe_every=8, progress=False)
    assert blind["observe_every"] == 8 and blind["events"] == expert["events"]
    with pytest.raises(ladder.LadderError, match="needs a policy with a world model"):
        ladder.from_play("expert", root, events=1, observe_every=8, progress=False)
    with pytest.raises(ladder.LadderError, match="robot_start must be"):
        ladder.from_play("random", root, robot_start="home")
    with pytest.raises(ladder.LadderError, match="instructions must be"):
        ladder.from_play("random", root, instructions="validation")
    vision = Path(__file__).resolve().parents[1] / "checkpoints" / "policy_vision_demo"
    with pytest.raises(ladder.LadderError, match="state-mode policies"):
        ladder.from_play(str(vision), root)


def test_ladder_fit_compares_teacher_forced_actions_with_the_recorded_ones(
        sim_dataset, policy_checkpoint, monkeypatch, tmp_path, capsys):
    """The fit rung (session 23) located the block tasks' defect: the decoded-state actor fit
    them worse than the fixtures even on its training windows. Per task, its figures are the
    policy's actions at the recorded frames of the task's windows against the recorded
    rel_actions: a policy that always answers zero scores exactly the recorded actions' mean
    square; the same seed picks the same windows; bad input names what was expected."""
    from lumos_core import ladder
    from lumos_core.cli import main
    from lumos_core.data.calvin import read_annotations
    from lumos_core.data.dataset import PlayData
    from lumos_core.policy import LumosPolicy

    root, _, _ = sim_dataset
    runs = [ladder.action_fit(policy_checkpoint, root, "training", windows=2, progress=False)
            for _ in range(2)]
    assert runs[0] == runs[1]
    ann = read_annotations(Path(root) / "training")
    tasks = set(ann["language"]["task"])
    assert set(runs[0]["per_task"]) == tasks
    for v in runs[0]["per_task"].values():
        assert 1 <= v["windows"] <= 2 and v["mse"] >= 0 and -1 <= v["cos"] <= 1
        assert 0 <= v["gripper"] <= 1
    assert sum(g["windows"] for g in runs[0]["groups"].values()) == \
        sum(v["windows"] for v in runs[0]["per_task"].values())

    monkeypatch.setattr(LumosPolicy, "act", lambda self, feat, goal: np.zeros(7))
    zero = ladder.action_fit(policy_checkpoint, root, "training", windows=100, progress=False)
    data = PlayData(Path(root) / "training", images=False, progress=False)
    row_of = {int(f): i for i, f in enumerate(data.frame_ids)}
    actions = np.asarray(data.arrays["rel_actions"], np.float64)
    for task in tasks:            # every window of the task (windows=100 > the annotations)
        rows = [r for (a, b), t in zip(ann["info"]["indx"], ann["language"]["task"]) if t == task
                for r in range(row_of[a], row_of[b] + 1)]
        assert zero["per_task"][task]["mse"] == pytest.approx(
            float(np.mean(actions[rows, :6] ** 2)), rel=1e-6)
    monkeypatch.undo()

    assert main(["ladder", "fit", "--policy", str(policy_checkpoint), str(policy_checkpoint),
                 "--dataset", str(root), "--split", "training", "--windows", "1",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "teacher-forced" in out and (tmp_path / "fit_training.md").read_text() in out
    assert (tmp_path / "fit_training.json").exists()
    assert main(["ladder", "fit", "--dataset", str(root)]) == 2
    assert "needs --policy" in capsys.readouterr().err
    assert main(["ladder", "trace", "--policy", "a", "b", "--task", "open_drawer"]) == 2
    assert "takes one --policy" in capsys.readouterr().err
    with pytest.raises(ladder.LadderError, match="not a policy checkpoint"):
        ladder.action_fit(tmp_path / "none", root)
    vision = Path(__file__).resolve().parents[1] / "checkpoints" / "policy_vision_demo"
    with pytest.raises(ladder.LadderError, match="state-mode policies"):
        ladder.action_fit(vision, root)


def test_ladder_cli_errors_name_what_is_missing(tmp_path, capsys):
    from lumos_core.cli import main

    assert main(["ladder", "state-bc", "--dataset", str(tmp_path)]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert main(["ladder", "reward"]) == 2
    assert "needs --features" in capsys.readouterr().err
    assert main(["ladder", "replay", "--dataset", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_checkpoints_of_the_previous_version_still_load(policy_checkpoint, tmp_path):
    """Old checkpoints store collect.lang_fraction and have no reward-latent statistics."""
    import json
    import shutil

    from lumos_core.agent import BehaviourModel
    from lumos_core.policy import LumosPolicy

    old = tmp_path / "old"
    shutil.copytree(policy_checkpoint, old)
    meta = json.loads((old / "meta.json").read_text())
    meta["config"]["collect"]["lang_fraction"] = 0.05
    meta["config"]["collect"].pop("lang_density", None)
    (old / "meta.json").write_text(json.dumps(meta))
    policy = LumosPolicy(old)
    assert policy.cfg.collect.lang_density == 0.01
    model = BehaviourModel(policy.cfg.agent, policy.cfg.world_model)
    state = {k: v for k, v in policy.behaviour.state_dict().items()
             if k not in ("reward_mean", "reward_std")}
    model.load_weights(state)
    assert torch.equal(model.reward_std, torch.ones_like(model.reward_std))
    with pytest.raises(RuntimeError):
        model.load_weights({k: v for k, v in state.items() if not k.startswith("actor.")})


def test_evaluation_workers_use_one_torch_thread():
    """Defect: spawned evaluation workers ran with one torch thread per core; their spinning
    OpenMP threads took the other workers' cores (4x slower evaluation on 2 cores)."""
    import multiprocessing as mp

    from lumos_core.evaluation import _init_worker

    with mp.get_context("spawn").Pool(1, initializer=_init_worker) as pool:
        assert pool.apply(torch.get_num_threads) == 1


def test_block_yaw_is_canonical_modulo_pi_for_the_models():
    """Defect: a block's raw yaw lies anywhere in (-pi, pi] after play rotated it, so the grasp
    yaw (the yaw modulo pi) was a discontinuous function of the input: true-state BC turned
    the gripper past the block (yaw error 0.2-1.0 rad when it reached the block)."""
    from lumos_core.data.calvin import BLOCK_YAW_INDICES, canonical_scene_obs

    scene = np.zeros((3, 24), np.float32)
    scene[:, 6:] = 0.25
    scene[0, 11], scene[1, 11], scene[2, 11] = 0.3, 0.3 + math.pi, 0.3 - math.pi
    scene[:, 17], scene[:, 23] = math.pi / 2 + 0.1, -math.pi / 2 - 0.1
    c = canonical_scene_obs(scene)
    assert np.allclose(c[:, 11], 0.3, atol=1e-5)
    assert np.allclose(c[:, 17], -math.pi / 2 + 0.1, atol=1e-5)
    assert np.allclose(c[:, 23], math.pi / 2 - 0.1, atol=1e-5)
    others = [i for i in range(24) if i not in BLOCK_YAW_INDICES]
    assert np.array_equal(c[:, others], scene[:, others])
    assert scene[1, 11] > 3                 # a copy; the input is untouched
    assert torch.allclose(canonical_scene_obs(torch.as_tensor(scene)), torch.as_tensor(c),
                          atol=1e-5)
    cfg = load_config("debug", ["world_model.obs_mode=state"])
    wm = WorldModel(cfg.world_model)
    obs = {"robot_obs": torch.zeros(3, 15), "scene_obs": torch.as_tensor(scene)}
    x = wm.vector_targets(obs)
    assert torch.allclose(x[0], x[1], atol=1e-4) and torch.allclose(x[0], x[2], atol=1e-4)


def test_models_trained_on_raw_block_yaws_keep_them():
    """A checkpoint stored before `world_model.canonical_scene` existed saw raw yaws."""
    from lumos_core.config import LumosConfig

    assert LumosConfig().world_model.canonical_scene is True
    stored = LumosConfig().to_dict()
    stored["world_model"].pop("canonical_scene")
    assert LumosConfig.from_stored(stored).world_model.canonical_scene is False
    stored["world_model"]["canonical_scene"] = True
    assert LumosConfig.from_stored(stored).world_model.canonical_scene is True


def test_expert_grasps_and_releases_on_arrival_not_on_a_hidden_counter():
    """Defect: the expert held the gripper open for two 'settle' steps at the grasp point, then
    closed: the same observed state (TCP at the block, gripper open) was labelled open twice
    and close once, so a memoryless policy waited at the block forever (true-state BC: 0 % of
    lifts). Now every frame at the grasp point with the gripper open is labelled close."""
    from lumos_core.sim.env import PlayTableEnv, wrap_angle
    from lumos_core.sim.expert import ScriptedExpert, _grasp_yaw
    from lumos_core.sim.tasks import SceneState, completed_tasks

    at_block = []
    with PlayTableEnv(SimConfig(render=False)) as env:
        for seed in range(3):
            env.reset(seed=seed)
            expert = ScriptedExpert(env, np.random.default_rng(seed))
            start = SceneState(env.scene_obs(), env.held_block())
            expert.start("lift_red_block_table")
            x, y, z = start.pos("red")
            grasp = np.array([x, y, max(z, 0.012)])
            yaw = _grasp_yaw(start.yaw("red"))
            done = False
            while not expert.done:
                tcp, euler = env.tcp_pose()
                opened = env.robot_obs()[14] > 0
                pos, eul, gripper = expert.act()
                if (opened and np.linalg.norm(tcp - grasp) < 0.006
                        and abs(wrap_angle(yaw - euler[2])) < 0.06):
                    at_block.append(gripper)
                env.step_absolute(pos, eul, gripper)
                done = done or "lift_red_block_table" in completed_tasks(
                    start, SceneState(env.scene_obs(), env.held_block()))
            assert done, f"the expert failed to lift (seed {seed})"
    assert at_block and all(g < 0 for g in at_block), at_block


def test_expert_stacks_onto_the_nearest_block_not_a_random_one():
    """Defect: the expert stacked onto a random free block, so the same observed state and
    instruction led to two targets and a memoryless policy went between them (true-state BC:
    0 % of stacks)."""
    from lumos_core.sim.env import PlayTableEnv
    from lumos_core.sim.expert import ScriptedExpert

    with PlayTableEnv(SimConfig(render=False)) as env:
        env.reset(seed=0)
        expert = ScriptedExpert(env, np.random.default_rng(0))
        expert.start("lift_red_block_table")
        while not expert.done:
            env.step_absolute(*expert.act())
        assert env.held_block() == "red"
        state = expert.state()
        targets = []
        for seed in range(4):
            expert.rng = np.random.default_rng(seed)
            expert.start("stack_block")
            targets.append(np.round(expert.plan[-1].pos[:2], 6))
        held = env.block_pose("red")[0][:2]
        nearest = min(("blue", "pink"), key=lambda c: np.linalg.norm(state.pos(c)[:2] - held))
        assert all(np.array_equal(t, targets[0]) for t in targets)
        offset = expert._held_offset()[:2]
        assert np.allclose(targets[0] + offset, state.pos(nearest)[:2], atol=1e-4)


@pytest.mark.parametrize("task", ["place_in_slider", "place_in_drawer"])
def test_expert_places_by_dropping_from_above_the_walls(task):
    """Defect: the expert lowered the held block inside the container, threading the hand
    (20 cm across the fingers' axis) into an 18 cm compartment; a policy a centimetre or a few
    degrees off pressed on a wall, never reached the release point and never let go
    (true-state BC: 0 of 29 placements in chains). The expert now lets go with the block
    above the walls, and the drop still lands it inside."""
    from lumos_core.benchmarks.expert import prepare
    from lumos_core.sim import scene
    from lumos_core.sim.env import PlayTableEnv
    from lumos_core.sim.expert import ScriptedExpert
    from lumos_core.sim.tasks import SceneState, completed_tasks

    wall = scene.CABINET_WALL if task == "place_in_slider" else scene.DRAWER_WALL
    rng = np.random.default_rng(1)
    with PlayTableEnv(SimConfig(render=False)) as env:
        expert = ScriptedExpert(env, rng)
        for _ in range(2):
            assert prepare(env, expert, task, rng)
            held = env.held_block()
            start = SceneState(env.scene_obs(), held)
            expert.start(task)
            released_at = None
            while not expert.done:
                target = expert.act()
                if released_at is None and target[2] > 0:
                    bottom = env.block_pose(held)[0][2] - scene.BLOCK_SIZES[held][2] / 2
                    released_at = bottom
                env.step_absolute(*target)
            assert released_at is not None and released_at > wall, (released_at, wall)
            assert task in completed_tasks(start, SceneState(env.scene_obs(),
                                                             env.held_block()))


def test_return_normalisation_keeps_the_actor_objective_at_a_known_scale():
    """Defect: the unnormalised return objective (~-20) swamped the BC term (~0.04) a
    thousand to one; 'percentile' divides it by a running 5-95 % return range (>= 1)."""
    torch.manual_seed(0)
    for norm in ("none", "percentile"):
        cfg = load_config("debug", [f"agent.return_norm={norm}", "agent.use_plan=false",
                                    "agent.use_alignment=false"])
        torch.manual_seed(0)
        agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
        returns = torch.linspace(0.0, 40.0, 101)[None].repeat(3, 1)
        scale = agent._return_scale(returns)
        if norm == "none":
            assert scale == 1.0
        else:
            assert torch.isclose(scale, torch.tensor(36.0), rtol=1e-3)     # 38 - 2
            agent._return_scale(returns * 0.0)                             # a flat batch
            assert torch.isclose(agent.behaviour.return_scale, torch.tensor(0.99 * 36.0),
                                 rtol=1e-3)
            assert agent._return_scale(returns * 0.0) >= 1.0
            assert "return_scale" in agent.behaviour.state_dict()


def test_ladder_trace_says_where_a_policy_fails_a_task(capsys):
    """The diagnostic behind fixes 10-12 (yaw past the block, never closing, releasing off
    target) is a command: the expert succeeds and closes at the block; random actions do
    not."""
    from lumos_core.cli import main

    assert main(["ladder", "trace", "--policy", "expert", "--task", "lift_red_block_table",
                 "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "2/2 succeeded; gripper closed in 2" in out and "at the block" in out
    assert main(["ladder", "trace", "--policy", "random", "--task", "stack_block",
                 "--trials", "1"]) == 0
    assert "0/1 succeeded" in capsys.readouterr().out
    assert main(["ladder", "trace", "--policy", "random"]) == 2


def test_state_decoder_asks_for_grasp_precision():
    """Defect: the state decoder's unit variance in data-std units let the filtered latent
    know the TCP to 8 mm and the blocks to 5 mm median / 20-30 mm p90 (a block's y has a
    std of 17 cm: 1 cm error cost 0.002 nats, less than the KL of one bit), while block
    roll/pitch wobbles (std floor 0.05 rad) dominated the loss. With
    ``state_resolution`` the decoder's std is physical: 2 mm for positions."""
    from lumos_core.world_model import RESOLUTION_UNITS

    assert len(RESOLUTION_UNITS) == 15 + 24
    legacy = WorldModel(load_config("debug", ["world_model.obs_mode=state"]).world_model)
    assert legacy.recon_weight() == 1.0                    # old checkpoints: as they trained
    cfg = load_config("debug", ["world_model.obs_mode=state",
                                "world_model.state_resolution=0.002"])
    wm = WorldModel(cfg.world_model)
    stats = {"robot_obs": {"mean": [0.0] * 15, "std": [0.1] * 15},
             "scene_obs": {"mean": [0.0] * 24, "std": [0.2] * 24}}
    wm.set_normalization(stats)
    w = wm.recon_weight()
    assert w[0].item() == pytest.approx(50.0)               # tcp x: 0.1 m std / 2 mm
    assert w[3].item() == pytest.approx(5.0)                # tcp roll: 0.1 / 0.02 rad
    assert w[15 + 6].item() == pytest.approx(100.0)         # red block x: 0.2 / 2 mm
    # a 2 mm error of the TCP's x costs half a nat, as a unit Gaussian of std 2 mm says
    obs = {"robot_obs": torch.zeros(1, 1, 15), "scene_obs": torch.zeros(1, 1, 24)}
    target = wm.vector_targets(obs)
    recon = target.clone()
    recon[..., 0] += 0.002 / 0.1
    err = (recon - target) * w
    assert 0.5 * err.pow(2).sum().item() == pytest.approx(0.5, rel=1e-4)
    # the stored configuration of a model trained before the option reads 0 (legacy)
    from lumos_core.config import LumosConfig

    old = LumosConfig.from_dict({"world_model": {"obs_mode": "state"}})
    assert old.world_model.state_resolution == 0.0
    assert load_config("state").world_model.state_resolution > 0


def test_hard_goal_posterior_sees_a_one_hot_of_the_classifier():
    """--goal-posterior hard: the action network sees exactly one task, the classifier's
    argmax; a network saved with the old boolean flag loads as the soft posterior."""
    from lumos_core.ladder import StateBCNet

    torch.manual_seed(0)
    net = StateBCNet(4, 6, goal_code=8, tasks=5, posterior="hard")
    goal = torch.randn(16, 6)
    seen = net.seen_goal(goal)
    assert torch.equal(seen.sum(-1), torch.ones(16))
    assert torch.equal(seen.argmax(-1), net.task_logits(goal).argmax(-1))
    assert StateBCNet(4, 6, goal_code=8, tasks=5, posterior=True).posterior == "soft"
