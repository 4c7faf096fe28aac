"""CALVIN-format data: scripted collection round-trips through the reader; the real CALVIN
layout (200x200 / 84x84, extra keys, ids not starting at 0) is read and resized; damaged
files fail with their name; an interrupted write leaves earlier episodes intact."""

import numpy as np
import pytest
import yaml

from lumos_core.config import CollectConfig, SimConfig
from lumos_core.data.calvin import (DatasetError, SplitWriter, append_annotations, frame_name,
                                    read_annotations, read_episode_ids)
from lumos_core.data.dataset import PlayData
from lumos_core.instructions import load_instruction_file
from lumos_core.paths import config_file
from lumos_core.sim.collect import CollectError, collect


@pytest.fixture(scope="module")
def dataset(sim_dataset):
    return sim_dataset


def test_collected_dataset_round_trips(dataset):
    root, summary, _ = dataset
    assert summary["training"]["frames"] == 120 and summary["validation"]["frames"] == 120
    assert read_episode_ids(root / "training").tolist() == [[0, 119]]
    with np.load(root / "training" / frame_name(7)) as frame:
        assert set(frame.files) == {"rgb_static", "rgb_gripper", "actions", "rel_actions",
                                    "robot_obs", "scene_obs"}
        assert frame["rgb_static"].shape == (64, 64, 3) and frame["rgb_static"].dtype == np.uint8
        assert frame["rel_actions"].shape == (7,) and frame["robot_obs"].shape == (15,)
        assert frame["scene_obs"].shape == (24,) and frame["actions"].dtype == np.float32
        raw = {k: frame[k] for k in frame.files}
    data = PlayData(root / "training", 64, progress=False)
    assert len(data) == 120
    for key, value in raw.items():
        assert np.array_equal(data.arrays[key][7], value), key
    batch = data.batch([0, 50], 20)
    assert batch["rgb_gripper"].shape == (2, 20, 64, 64, 3)
    assert batch["is_first"][0, 0] and not batch["is_first"][1].any()
    assert np.all(np.abs(batch["rel_actions"]) <= 1.0)
    assert set(np.unique(batch["rel_actions"][..., 6])) <= {-1.0, 1.0}


def test_statistics_and_annotations(dataset):
    root, summary, cfg = dataset
    stats = yaml.safe_load((root / "training" / "statistics.yaml").read_text())
    assert stats["robot_obs"][0]["_target_"].endswith("NormalizeVector")
    assert len(stats["robot_obs"][0]["mean"]) == 15 and len(stats["act_min_bound"]) == 7
    lang = read_annotations(root / "training")
    n = len(lang["info"]["indx"])
    assert n == summary["training"]["annotations"] >= 1
    assert lang["language"]["emb"].shape == (n, 1, 384)
    train = load_instruction_file(config_file("sim_instructions_train.yaml"))
    for (start, end), text, task in zip(lang["info"]["indx"], lang["language"]["ann"],
                                        lang["language"]["task"]):
        assert 0 <= start <= end <= 119 and end - start < cfg.lang_window
        assert text in train[task]
    rows = PlayData(root / "training", 64, progress=False).language()["rows"]
    assert rows.shape == (n, 2)


def test_collect_resumes_and_refuses_other_settings(dataset, encoder):
    root, _, cfg = dataset
    instructions = load_instruction_file(config_file("sim_instructions_train.yaml"))
    before = (root / "training" / frame_name(3)).stat().st_mtime_ns
    collect(root, SimConfig(), cfg, instructions, encoder=encoder, progress=False)
    assert (root / "training" / frame_name(3)).stat().st_mtime_ns == before
    with pytest.raises(CollectError, match="episode_length: 120 -> 60"):
        collect(root, SimConfig(), CollectConfig(**{**cfg.__dict__, "episode_length": 60}),
                instructions, encoder=encoder, progress=False)


def _episode(n, size=8, seed=0):
    rng = np.random.default_rng(seed)
    return {"rgb_static": rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8),
            "rgb_gripper": rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8),
            "actions": rng.normal(size=(n, 7)).astype(np.float32),
            "rel_actions": rng.uniform(-1, 1, (n, 7)).astype(np.float32),
            "robot_obs": rng.normal(size=(n, 15)).astype(np.float32)}


def test_interrupted_episode_leaves_earlier_ones_intact(tmp_path):
    writer = SplitWriter(tmp_path / "training")
    writer.write_episode(_episode(5))
    staged = writer.staging_dir()
    SplitWriter.write_frames(staged, 5, _episode(4, seed=1))  # crash before commit
    reopened = SplitWriter(tmp_path / "training")
    assert not staged.exists(), "stale staging directory not cleaned"
    assert reopened.episodes.tolist() == [[0, 4]]
    assert len(PlayData(tmp_path / "training", 8, progress=False)) == 5
    assert reopened.write_episode(_episode(3, seed=2)) == (5, 7)


def test_bad_episodes_are_rejected(tmp_path):
    writer = SplitWriter(tmp_path / "training")
    bad = _episode(3)
    bad["robot_obs"] = bad["robot_obs"][:, :10]
    with pytest.raises(DatasetError, match="robot_obs.*expected \\(15,\\)"):
        writer.write_episode(bad)
    bad = _episode(3)
    bad["actions"][1, 2] = np.nan
    with pytest.raises(DatasetError, match="actions.*NaN"):
        writer.write_episode(bad)
    assert writer.episodes.tolist() == [] and not list(writer.dir.glob("episode_*"))


@pytest.fixture
def calvin_layout(tmp_path):
    """A tiny split in the real CALVIN layout: ids from 360570, 200x200 / 84x84 images,
    depth and tactile keys, CALVIN's statistics.yaml and lang_annotations."""
    split = tmp_path / "task_D_D" / "training"
    split.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids = [(360570, 360581), (360600, 360607)]
    np.save(split / "ep_start_end_ids.npy", np.array(ids))
    for start, end in ids:
        for i in range(start, end + 1):
            np.savez_compressed(
                split / frame_name(i),
                actions=rng.normal(size=7), rel_actions=rng.uniform(-1, 1, 7),
                robot_obs=rng.normal(size=15), scene_obs=rng.normal(size=24),
                rgb_static=rng.integers(0, 255, (200, 200, 3), dtype=np.uint8),
                rgb_gripper=rng.integers(0, 255, (84, 84, 3), dtype=np.uint8),
                rgb_tactile=rng.integers(0, 255, (160, 120, 6), dtype=np.uint8),
                depth_static=rng.random((200, 200)).astype(np.float32),
                depth_gripper=rng.random((84, 84)).astype(np.float32),
                depth_tactile=rng.random((160, 120, 2)).astype(np.float32))
    stats = {"robot_obs": [{"_target_": "calvin_models.calvin_agent.utils.transforms."
                                        "NormalizeVector", "mean": [0.1] * 15,
                            "std": [0.0] + [2.0] * 14}],
             "act_min_bound": [-1] * 7, "act_max_bound": [1] * 7}
    (split / "statistics.yaml").write_text(yaml.safe_dump(stats))
    append_annotations(split, [(360571, 360580)], ["open the drawer"], ["open_drawer"],
                       rng.normal(size=(1, 384)))
    return split


def test_real_calvin_layout_is_read_and_resized(calvin_layout):
    data = PlayData(calvin_layout, 64, progress=False)
    assert len(data) == 20
    assert data.arrays["rgb_static"].shape == (20, 64, 64, 3)
    assert data.arrays["rgb_gripper"].shape == (20, 64, 64, 3)
    assert "depth_static" not in data.keys and "scene_obs" in data.keys
    with np.load(calvin_layout / frame_name(360601)) as frame:
        import cv2

        expected = cv2.resize(frame["rgb_static"], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.array_equal(data.arrays["rgb_static"][13], expected)
    assert data.segments.tolist() == [[0, 11], [12, 19]]
    assert data.language()["rows"].tolist() == [[1, 10]]
    assert data.statistics()["robot_obs"]["std"][0] == 1.0  # zero std replaced
    assert data.valid_starts(10).tolist() == [0, 1, 2]
    again = PlayData(calvin_layout, 64, progress=False)
    assert not hasattr(again, "pack_seconds"), "pack was rebuilt although nothing changed"


def test_missing_and_damaged_frames_are_named(calvin_layout):
    (calvin_layout / frame_name(360575)).write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match="episode_0360575.npz: frame file is damaged"):
        PlayData(calvin_layout, 64, progress=False)
    (calvin_layout / frame_name(360575)).unlink()
    with pytest.raises(DatasetError, match="episode_0360575.npz: frame file is missing"):
        PlayData(calvin_layout, 64, progress=False)
    assert not list(calvin_layout.glob(".packed_*")), "temporary pack left behind"


def test_missing_split(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        PlayData(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no episodes"):
        PlayData(tmp_path / "empty")


def test_reannotation_with_another_fraction_keeps_frames(dataset, tmp_path, encoder):
    import shutil

    from dataclasses import replace

    from lumos_core.sim.collect import recorded_settings

    root = tmp_path / "copy"
    shutil.copytree(dataset[0], root)
    sim_cfg, cfg = recorded_settings(root)
    instructions = load_instruction_file(config_file("sim_instructions_train.yaml"))
    before = len(read_annotations(root / "training")["info"]["indx"])
    mtime = (root / "training" / frame_name(3)).stat().st_mtime_ns
    collect(root, sim_cfg, replace(cfg, lang_density=0.0), instructions, encoder=encoder,
            progress=False)
    assert len(read_annotations(root / "training")["info"]["indx"]) == 0
    collect(root, sim_cfg, cfg, instructions, encoder=encoder, progress=False)
    assert len(read_annotations(root / "training")["info"]["indx"]) == before >= 1
    assert (root / "training" / frame_name(3)).stat().st_mtime_ns == mtime


def _open_split(path):
    from lumos_core.data.dataset import PlayData

    return len(PlayData(path, 16, progress=False))


def test_concurrent_packing_of_one_split(tmp_path):
    """DDP ranks open the same split at once: both must get a pack, neither may fail."""
    import multiprocessing
    import shutil

    from conftest import write_random_episodes

    split = write_random_episodes(tmp_path / "training", [300], 32, 32)
    ctx = multiprocessing.get_context("fork")
    for _ in range(3):
        shutil.rmtree(split / "packed_16", ignore_errors=True)
        with ctx.Pool(2) as pool:
            assert pool.map(_open_split, [split, split]) == [300, 300]
        assert not [p for p in split.iterdir() if p.name.startswith(".packed")]


def test_random_play_of_colour_blocks(tmp_path):
    """scripts/random_play.py's frames: 8 x 8 colour blocks scaled up, scene_obs included, one
    episode per length; a size the blocks do not divide is refused by name."""
    from lumos_core.data.synthetic import write_random_play

    split = write_random_play(tmp_path / "training", [5, 3], static_size=32, blocks=8,
                              scene=True)
    data = PlayData(split, 2, progress=False)
    assert len(data) == 8
    frame = np.load(split / frame_name(0))
    assert frame["scene_obs"].shape == (24,) and frame["rgb_gripper"].shape == (32, 32, 3)
    image = frame["rgb_static"]
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert (image[:4, :4] == image[0, 0]).all() and len(colours) > 1
    with pytest.raises(ValueError, match="image size 30 is not a multiple of blocks=8"):
        write_random_play(tmp_path / "bad", [2], static_size=30, blocks=8)
