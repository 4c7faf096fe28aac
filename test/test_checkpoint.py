"""Checkpoints: round trip, atomic replacement, and clear errors for damaged input."""

import json

import pytest
import torch

from lumos_core.checkpoint import (FORMAT_VERSION, META, TRAINING_STATE, WEIGHTS,
                                   CheckpointError, load_checkpoint, read_meta, save_checkpoint)
from lumos_core.config import load_config


def _save(path, **kwargs):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ELU(), torch.nn.Linear(8, 2))
    args = dict(kind="world_model", modules={"world_model": net}, config=load_config("debug"),
                normalization={"robot_obs": {"mean": [0.0] * 15, "std": [1.0] * 15}},
                language_model_id="sentence-transformers/all-MiniLM-L6-v2",
                extra={"instructions": {"open_drawer": ["open the drawer"]}})
    args.update(kwargs)
    return save_checkpoint(path, **args), net


def test_round_trip(tmp_path):
    opt_state = {"step": torch.tensor(7), "lr": 0.1}
    path, net = _save(tmp_path / "ckpt", training_state=opt_state)
    ckpt = load_checkpoint(path, kind="world_model")
    restored = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ELU(), torch.nn.Linear(8, 2))
    restored.load_state_dict(ckpt.state_dict("world_model"))
    x = torch.randn(3, 4)
    assert torch.equal(restored(x), net(x))
    assert ckpt.lumos_config() == load_config("debug")
    assert ckpt.normalization["robot_obs"]["std"] == [1.0] * 15
    assert ckpt.language_model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert ckpt.extra["instructions"] == {"open_drawer": ["open the drawer"]}
    assert ckpt.meta["format_version"] == FORMAT_VERSION
    assert ckpt.meta["code_version"].startswith("0.1.0")
    state = ckpt.training_state()
    assert state["lr"] == 0.1 and int(state["step"]) == 7


def test_overwrite_replaces_atomically_and_keeps_old_on_failure(tmp_path):
    path, _ = _save(tmp_path / "ckpt")
    first = load_checkpoint(path).tensors
    with pytest.raises(TypeError):
        save_checkpoint(path, kind="world_model", modules={"world_model": {"w": [1, 2]}},
                        config=load_config("debug"))
    assert all(torch.equal(first[k], v) for k, v in load_checkpoint(path).tensors.items())
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"], "temporary files left behind"


def test_refuses_to_overwrite_something_else(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="not a checkpoint; refusing"):
        _save(tmp_path / "notes")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_missing(tmp_path):
    with pytest.raises(CheckpointError, match=r"missing_ckpt: checkpoint does not exist"):
        load_checkpoint(tmp_path / "missing_ckpt")


def test_a_file_is_not_a_checkpoint(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"xx")
    with pytest.raises(CheckpointError, match="model.pt: a checkpoint is a directory"):
        load_checkpoint(tmp_path / "model.pt")


def test_truncated_weights(tmp_path):
    path, _ = _save(tmp_path / "ckpt")
    data = (path / WEIGHTS).read_bytes()
    (path / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"{WEIGHTS}: file is truncated or damaged"):
        load_checkpoint(path)


def test_corrupted_weights_same_size(tmp_path):
    path, _ = _save(tmp_path / "ckpt")
    data = bytearray((path / WEIGHTS).read_bytes())
    data[-1] ^= 0xFF
    (path / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum does not match"):
        load_checkpoint(path)


def test_missing_weights_file(tmp_path):
    path, _ = _save(tmp_path / "ckpt")
    (path / WEIGHTS).unlink()
    with pytest.raises(CheckpointError, match=rf"{WEIGHTS}: file is missing"):
        load_checkpoint(path)


def test_truncated_meta(tmp_path):
    path, _ = _save(tmp_path / "ckpt")
    text = (path / META).read_text()
    (path / META).write_text(text[:40])
    with pytest.raises(CheckpointError, match=rf"{META}: not valid JSON"):
        load_checkpoint(path)


def test_wrong_version(tmp_path):
    path, _ = _save(tmp_path / "ckpt")
    meta = json.loads((path / META).read_text())
    meta["format_version"] = 99
    (path / META).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="format version 99 is not supported"):
        read_meta(path)


def test_wrong_kind(tmp_path):
    path, _ = _save(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="kind is 'world_model', expected 'policy'"):
        load_checkpoint(path, kind="policy")


def test_missing_module(tmp_path):
    path, _ = _save(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="no weights for module 'agent'.*world_model"):
        load_checkpoint(path).state_dict("agent")


def test_damaged_training_state(tmp_path):
    path, _ = _save(tmp_path / "ckpt", training_state={"step": torch.tensor(1)})
    (path / TRAINING_STATE).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=TRAINING_STATE):
        load_checkpoint(path).training_state()


def test_invalid_stored_config(tmp_path):
    path, _ = _save(tmp_path / "ckpt")
    meta = json.loads((path / META).read_text())
    meta["config"]["world_model"]["deter"] = -1
    (path / META).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="stored config is invalid.*world_model.deter"):
        load_checkpoint(path).lumos_config()
