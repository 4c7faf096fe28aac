"""The `lumos` command: subcommands listed, clear errors, exit codes."""

import subprocess
import sys

import pytest

from lumos_core.cli import main


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("config", "checkpoint", "embed", "demo"):
        assert command in out


def test_config_show(capsys):
    assert main(["config", "show", "--preset", "cpu", "--set", "world_model.deter=96"]) == 0
    out = capsys.readouterr().out
    assert "deter: 96  # Size of the deterministic GRU state h." in out


def test_config_error_exit_code(capsys):
    assert main(["config", "show", "--set", "world_model.nope=1"]) == 2
    err = capsys.readouterr().err
    assert "config error: unknown config key world_model.nope" in err


def test_checkpoint_info(tmp_path, capsys):
    import torch

    from lumos_core.checkpoint import save_checkpoint
    from lumos_core.config import load_config

    save_checkpoint(tmp_path / "c", kind="policy", modules={"agent": torch.nn.Linear(3, 2)},
                    config=load_config("debug"))
    assert main(["checkpoint", "info", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "kind:           policy" in out and "parameters:     8" in out
    assert main(["checkpoint", "info", str(tmp_path / "nope")]) == 2
    assert "nope: checkpoint does not exist" in capsys.readouterr().err


def test_console_script_installed():
    result = subprocess.run([sys.executable, "-m", "lumos_core.cli", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "demo" in result.stdout


def test_checkpoint_export_drops_training_state(tmp_path, capsys):
    import torch

    from lumos_core.checkpoint import load_checkpoint, save_checkpoint
    from lumos_core.config import load_config

    save_checkpoint(tmp_path / "c", kind="policy", modules={"agent": torch.nn.Linear(3, 2)},
                    config=load_config("debug"), training_state={"step": torch.tensor(3)},
                    extra={"instructions": {"t": ["x"]}})
    assert main(["checkpoint", "export", str(tmp_path / "c"), str(tmp_path / "d")]) == 0
    out = load_checkpoint(tmp_path / "d", kind="policy")
    assert out.training_state() is None and out.extra["instructions"] == {"t": ["x"]}
    assert torch.equal(out.tensors["agent.weight"], load_checkpoint(tmp_path / "c")
                       .tensors["agent.weight"])
