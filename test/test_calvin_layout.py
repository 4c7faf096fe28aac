"""The real CALVIN dataset layout (issue: training on the real CALVIN dataset).

The fixture reproduces what CALVIN's renderer and split scripts write and what the first
versions of this project did not expect: vectors stored as float64 (``<f8``), depth and tactile
arrays in every frame, 200x200 / 84x84 cameras, validation episode ids continuing after
training's, an unsorted ``ep_start_end_ids.npy``, language windows with an *exclusive* end
(``start + length``) and their embeddings under ``lang_paraphrase-MiniLM-L3-v2/`` from that
model, a ``statistics.yaml`` with NormalizeVector entries and action bounds."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from lumos_core.data.calvin import (CALVIN_LANG_DIR, CALVIN_LANG_MODEL, DatasetError,
                                    append_annotations, read_annotations,
                                    windows_in_episodes)
from lumos_core.data.dataset import PlayData
from lumos_core.language import MODEL_ID

TRAIN_EPISODES = [(60, 99), (0, 39)]          # unsorted, as CALVIN's files can be
VALIDATION_EPISODES = [(100, 139)]            # ids continue after training's
WINDOWS = [(2, 2 + 30), (62, 62 + 25), (30, 30 + 20)]   # (start, start + length); the last
TEXTS = ["open the drawer", "push the red block left", "turn on the light bulb"]   # runs past


def _frame(rng: np.random.Generator) -> dict:
    return {"actions": rng.normal(size=7), "rel_actions": rng.uniform(-1, 1, 7),
            "robot_obs": rng.normal(size=15), "scene_obs": rng.normal(size=24),
            # the real sizes; constant content keeps the fixture quick to compress
            "rgb_static": np.full((200, 200, 3), rng.integers(255), np.uint8),
            "rgb_gripper": np.full((84, 84, 3), rng.integers(255), np.uint8),
            "depth_static": np.full((200, 200), rng.random(), np.float32),
            "depth_gripper": np.full((84, 84), rng.random(), np.float32),
            "rgb_tactile": np.zeros((160, 120, 6), np.uint8),
            "depth_tactile": np.zeros((160, 120, 2), np.float32)}


def _split(root: Path, episodes, windows=None, rng=None) -> Path:
    root.mkdir(parents=True)
    for start, end in episodes:
        for fid in range(start, end + 1):
            np.savez_compressed(root / f"episode_{fid:07d}.npz", **_frame(rng))
    np.save(root / "ep_start_end_ids.npy", np.asarray(episodes, np.int64))
    stats = {k: [{"_target_": "calvin_models.calvin_agent.utils.transforms.NormalizeVector",
                  "mean": [0.0] * n, "std": [1.0] * n}]
             for k, n in (("robot_obs", 15), ("scene_obs", 24))}
    stats["act_min_bound"] = [-1.0] * 7
    stats["act_max_bound"] = [1.0] * 7
    (root / "statistics.yaml").write_text(yaml.safe_dump(stats))
    if windows:
        lang = root / CALVIN_LANG_DIR
        lang.mkdir()
        np.save(lang / "auto_lang_ann.npy", np.array({
            "info": {"indx": list(windows), "episodes": []},
            "language": {"ann": TEXTS[:len(windows)], "task": ["t"] * len(windows),
                         "emb": rng.normal(size=(len(windows), 1, 384)).astype(np.float32)}},
            dtype=object), allow_pickle=True)
    return root


@pytest.fixture(scope="module")
def calvin_root(tmp_path_factory):
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("task_D_D")
    _split(root / "training", TRAIN_EPISODES, WINDOWS, rng)
    _split(root / "validation", VALIDATION_EPISODES, None, rng)
    return root


def test_window_ends_are_read_as_calvin_reads_them(calvin_root):
    """CALVIN's loader starts windows in range(start, end + 1 - min_window) and reads
    window_size frames from there: frame ``end`` is never read -- the end is exclusive."""
    lang = read_annotations(calvin_root / "training")
    assert lang["info"]["file_convention"] == "exclusive"
    assert lang["info"]["indx"] == [(s, e - 1) for s, e in WINDOWS]
    # the last frame CALVIN's loader can read of a window, by its own rule (min window 16,
    # windows no longer than what is left before the next annotation's lookup entries)
    start, end = WINDOWS[0]
    last_start = end - 16                        # range(start, end + 1 - 16)
    assert last_start + 16 - 1 == lang["info"]["indx"][0][1]


def test_embedding_model_of_the_calvin_folder_is_named(calvin_root):
    assert read_annotations(calvin_root / "training")["info"]["language_model"] == \
        CALVIN_LANG_MODEL


def test_a_window_past_its_episode_is_skipped_and_counted(calvin_root, capsys):
    data = PlayData(calvin_root / "training", images=False, progress=False)
    lang = data.language()
    assert lang["skipped"] == 1 and len(lang["rows"]) == 2
    assert "1 of 3 language windows run past their episode" in capsys.readouterr().err
    keep = windows_in_episodes(read_annotations(calvin_root / "training")["info"]["indx"],
                               data.episodes)
    assert keep.tolist() == [0, 1]
    # rows are inclusive and inside one episode each
    for (s, e), i in zip(lang["rows"], keep):
        assert data.frame_ids[s] == WINDOWS[i][0] and data.frame_ids[e] == WINDOWS[i][1] - 1


def test_packing_reads_only_the_needed_keys_and_converts_float64(calvin_root, monkeypatch):
    read = []
    original = np.lib.npyio.NpzFile.__getitem__

    def spy(self, key):
        read.append(key)
        return original(self, key)

    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", spy)
    data = PlayData(calvin_root / "validation", image_size=64, images=True, progress=False)
    assert not {k for k in read if "depth" in k or "tactile" in k}
    assert set(read) <= {"actions", "rel_actions", "robot_obs", "scene_obs", "rgb_static",
                         "rgb_gripper"}
    assert data.arrays["robot_obs"].dtype == np.float32
    with np.load(calvin_root / "validation" / "episode_0000100.npz") as frame:
        assert frame["robot_obs"].dtype == np.float64
        assert np.allclose(data.arrays["robot_obs"][0], frame["robot_obs"], atol=1e-6)
    assert data.arrays["rgb_static"].shape[1:] == (64, 64, 3)
    assert data.frame_ids[0] == 100


def test_annotations_written_here_are_end_exclusive_and_name_their_model(tmp_path, calvin_root):
    split = _split(tmp_path / "training", [(0, 39)], None, np.random.default_rng(1))
    append_annotations(split, [(3, 22)], ["open the drawer"], ["open_drawer"],
                       np.ones((1, 384), np.float32))
    raw = np.load(split / "lang_annotations" / "auto_lang_ann.npy", allow_pickle=True).item()
    assert raw["info"]["indx"] == [(3, 23)] and raw["info"]["indx_end"] == "exclusive"
    assert raw["info"]["language_model"] == MODEL_ID
    assert read_annotations(split)["info"]["indx"] == [(3, 22)]
    # another model's vectors cannot join them
    with pytest.raises(DatasetError, match="cannot join"):
        append_annotations(split, [(5, 30)], ["x"], ["t"], np.ones((1, 384), np.float32),
                           language_model=CALVIN_LANG_MODEL)


def test_files_of_the_first_versions_stay_inclusive(tmp_path):
    """Datasets written by `lumos collect` before the change: inclusive ends, no marker, the
    episode metadata folder present."""
    split = _split(tmp_path / "training", [(0, 39)], None, np.random.default_rng(2))
    (split / "episode_meta").mkdir()
    (split / "episode_meta" / "0000000.json").write_text("{}")
    (split / "lang_annotations").mkdir()
    np.save(split / "lang_annotations" / "auto_lang_ann.npy", np.array({
        "info": {"indx": [(3, 22)], "episodes": []},
        "language": {"ann": ["a"], "task": ["t"], "emb": np.zeros((1, 1, 384), np.float32)}},
        dtype=object), allow_pickle=True)
    lang = read_annotations(split)
    assert lang["info"]["indx"] == [(3, 22)] and lang["info"]["file_convention"] == "inclusive"
    assert lang["info"]["language_model"] == MODEL_ID


class _FakeFeatures:
    """What WindowSampler reads of `lumos featurize` output, for a PlayData split."""

    def __init__(self, data: PlayData, dim: int = 8) -> None:
        n = len(data)
        self.arrays = {"features": np.zeros((n, dim), np.float32),
                       "zero_features": np.zeros((n, dim), np.float32),
                       "rel_actions": np.zeros((n, 7), np.float32),
                       "segments": data.segments, "frame_ids": data.frame_ids}


def test_training_embeds_calvin_sentences_with_the_checkpoints_model(calvin_root, encoder,
                                                                     monkeypatch):
    """Real CALVIN splits ship paraphrase-MiniLM-L3-v2 vectors; a policy embeds goals with
    all-MiniLM-L6-v2 (the model its checkpoint names). Training re-embeds the sentences."""
    from lumos_core.agent_data import WindowSampler
    from lumos_core.config import load_config

    monkeypatch.setattr("lumos_core.language.shared_encoder", lambda: encoder)
    data = PlayData(calvin_root / "training", images=False, progress=False)
    cfg = load_config("debug").agent
    sampler = WindowSampler(_FakeFeatures(data), calvin_root / "training", cfg,
                            np.random.default_rng(0))
    assert sampler.skipped == 1 and len(sampler.lang_rows) == 2
    assert sampler.language_model == MODEL_ID
    expected = encoder.encode(sampler.lang_text)
    assert np.allclose(sampler.lang_emb, expected, atol=1e-6)


def test_a_checkpoint_of_another_language_model_is_refused():
    from lumos_core.policy import check_language_model

    check_language_model(MODEL_ID, "ckpt")
    check_language_model(None, "ckpt")               # checkpoints from before the record
    with pytest.raises(ValueError, match="paraphrase-MiniLM-L3-v2.*all-MiniLM-L6-v2"):
        check_language_model(CALVIN_LANG_MODEL, "ckpt")


def test_calvin_packing_benchmark_runs_on_real_size_frames():
    from lumos_core.benchmarks.data import calvin_packing

    r = calvin_packing(4)
    assert r["frames"] == 4 and r["pack_frames_per_s"] > 0 and r["every_key_frames_per_s"] > 0
    assert r["task_D_D_minutes"] > 0


def test_a_policy_trained_on_the_calvin_layout_embeds_goals_with_its_checkpoints_model(
        calvin_root, tmp_path, encoder, monkeypatch):
    """End to end on the fixture (debug sizes, state mode): world model -> featurize ->
    train-agent; the checkpoint names all-MiniLM-L6-v2, its training goals are that model's
    embeddings of the CALVIN sentences, and the policy embeds a text goal with it."""
    import torch

    from lumos_core.config import load_config
    from lumos_core.featurize import featurize
    from lumos_core.policy import LumosPolicy
    from lumos_core.train_agent import AgentTrainer
    from lumos_core.train_wm import WorldModelTrainer

    torch.set_num_threads(1)
    monkeypatch.setattr("lumos_core.language.shared_encoder", lambda: encoder)
    cfg = load_config("debug", [f"data.dataset={calvin_root}", "world_model.obs_mode=state",
                                "world_model.use_proprio=false", "wm_train.seq_len=8",
                                "wm_train.batch_size=2", "wm_train.eval_every=1000",
                                "wm_train.checkpoint_every=1000", "agent_train.batch_size=2",
                                "agent_train.checkpoint_every=1000"])
    wm = WorldModelTrainer(cfg, tmp_path / "wm", progress=False)
    wm.fit(2)
    featurize(wm.save("final"), calvin_root, tmp_path / "feats", progress=False)
    trainer = AgentTrainer(cfg, tmp_path / "feats", tmp_path / "agent", progress=False)
    assert np.allclose(trainer.sampler.lang_emb, encoder.encode(trainer.sampler.lang_text),
                       atol=1e-6)
    path = trainer.fit(2)
    policy = LumosPolicy(path, encoder=encoder)
    assert policy.language_model_id == MODEL_ID
    assert np.allclose(policy.goal_embedding("open the drawer").numpy()[0],
                       encoder.encode_one("open the drawer"))
