"""The `lumos` command never loses work and never lies: the fault cases of the CLI issue.

Outputs are checked before the work, runs never mix, resumes continue their own run with a
clean log, every number is range-checked, and a user error is one line (exit 2), not a
traceback."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lumos_core.cli import main

STATE_DEBUG = ["--preset", "debug", "--set", "world_model.obs_mode=state",
               "--set", "world_model.use_proprio=false"]


def _train_wm(root, out, *extra):
    return main(["train-wm", *STATE_DEBUG, "--set", f"data.dataset={root}",
                 "--report-horizon", "0", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def wm_run(sim_dataset, tmp_path_factory):
    root, _, _ = sim_dataset
    out = tmp_path_factory.mktemp("wm") / "run"
    assert _train_wm(root, out) == 0
    return out


# --- 1. outputs checked before the work ------------------------------------------------------
def test_evaluate_checks_its_output_before_running_chains(tmp_path, capsys, monkeypatch):
    import lumos_core.evaluation as evaluation

    ran = []
    monkeypatch.setattr(evaluation, "_run_job", lambda job: ran.append(job))
    afile = tmp_path / "report"
    afile.write_text("not a directory")
    assert main(["evaluate", "--policy", "random", "--chains", "2", "--workers", "1",
                 "--out", str(afile)]) == 2
    assert "is a file, expected a directory" in capsys.readouterr().err
    assert main(["evaluate", "--policy", "random", "--chains", "2", "--workers", "1",
                 "--out", str(afile / "sub")]) == 2
    assert "cannot write there" in capsys.readouterr().err
    assert not ran                                  # nothing was evaluated in vain


def test_evaluate_resume_is_a_clear_one_line_error_when_it_cannot_continue(tmp_path, capsys):
    base = ["evaluate", "--chains", "1", "--workers", "1", "--max-steps", "5"]
    assert main([*base, "--policy", "random", "--resume"]) == 2
    assert "--resume needs the report directory (--out)" in capsys.readouterr().err
    out = str(tmp_path / "r")
    assert main([*base, "--policy", "random", "--out", out]) == 0
    capsys.readouterr()
    assert main([*base, "--policy", "expert", "--out", out, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "policy = 'random', this one has 'expert'" in err and "Traceback" not in err
    assert main([*base, "--policy", "random", "--out", out, "--resume", "--chains", "2"]) == 0
    assert "1 chain(s) reused" in capsys.readouterr().out


def test_compare_reads_reports_and_names_what_is_wrong(tmp_path, capsys):
    base = ["evaluate", "--policy", "random", "--workers", "1", "--max-steps", "5"]
    assert main([*base, "--chains", "2", "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--chains", "1", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b" / "results.json"),
                 "--out", str(tmp_path / "cmp.md")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 (seed, chain) pairs") and "| b | task | 1 |" in out
    assert (tmp_path / "cmp.md").read_text() == out
    # an evaluation still running: its chain log stands in for the report
    (tmp_path / "a" / "results.json").unlink()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert capsys.readouterr().out.startswith("1 (seed, chain) pairs")
    for argv, message in (
            ([str(tmp_path / "a"), str(tmp_path / "nowhere")], "no such evaluation report"),
            ([str(tmp_path / "a"), str(tmp_path / "cmp.md")], "not a JSON evaluation report"),
            ([str(tmp_path / "a"), str(tmp_path / "b"), "--names", "x"], "--names: 1 name(s)"),
            ([str(tmp_path / "a"), str(tmp_path / "a")], "not distinct")):
        assert main(["compare", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err


def test_evaluate_keeps_its_results_when_the_report_cannot_be_written(tmp_path, capsys,
                                                                      monkeypatch):
    import lumos_core.evaluation as evaluation

    real = evaluation.write_report
    calls = []

    def flaky(out_dir, report, results):
        calls.append(out_dir)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real(out_dir, report, results)

    monkeypatch.setattr(evaluation, "write_report", flaky)
    assert main(["evaluate", "--policy", "random", "--chains", "1", "--workers", "1",
                 "--max-steps", "5", "--out", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    assert "No space left on device" in captured.err and "instead" in captured.err
    fallback = Path(captured.out.strip().splitlines()[-1].split("report: ")[1]).parent
    assert fallback != tmp_path / "r" and (fallback / "results.json").exists()


def test_train_wm_checks_its_output_before_loading_data(tmp_path, capsys):
    afile = tmp_path / "x"
    afile.write_text("")
    assert _train_wm(tmp_path / "no-dataset", afile) == 2
    assert "is a file" in capsys.readouterr().err           # not "dataset does not exist"


# --- 2. runs never mix; 3. resume continues its own run ---------------------------------------
def test_a_new_run_into_an_existing_run_is_refused_or_moved_aside(sim_dataset, wm_run, capsys,
                                                                  tmp_path):
    import shutil

    root, _, _ = sim_dataset
    run = tmp_path / "run"
    shutil.copytree(wm_run, run)
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert _train_wm(root, run) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before
    assert _train_wm(root, run, "--force") == 0
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]
    assert len(moved) == 1 and sorted(p.name for p in (moved[0] / "checkpoints").iterdir()) \
        == before
    assert _train_wm(root, tmp_path / "empty", "--resume") == 2
    assert "holds no run to resume" in capsys.readouterr().err


def test_resume_truncates_the_log_to_the_resumed_step(sim_dataset, wm_run, tmp_path, capsys):
    import shutil

    root, _, _ = sim_dataset
    run = tmp_path / "run"
    shutil.copytree(wm_run, run)
    shutil.rmtree(run / "checkpoints" / "step_00000020")        # as if it crashed after 10
    assert _train_wm(root, run, "--resume") == 0
    assert "resumed at step 10" in capsys.readouterr().out
    rows = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
    steps = [(r["step"], r["tag"]) for r in rows]
    assert len(steps) == len(set(steps)), "a resumed run logged some steps twice"
    assert [s for s, _ in steps] == sorted(s for s, _ in steps)


def test_resume_without_a_config_continues_with_the_runs_own(wm_run, tmp_path, capsys):
    """`--resume` alone takes the run's configuration (dataset, sizes), not the default
    preset's: it used to fail on the default dataset, or could train another model."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(wm_run, run)
    shutil.rmtree(run / "checkpoints" / "step_00000020")
    assert main(["train-wm", "--out", str(run), "--resume", "--report-horizon", "0"]) == 0
    out = capsys.readouterr().out
    assert "continuing with the configuration of" in out and "resumed at step 10" in out
    assert (run / "checkpoints" / "step_00000020").exists()


def test_resume_with_another_model_config_names_the_keys(sim_dataset, wm_run, tmp_path,
                                                         capsys):
    import shutil

    root, _, _ = sim_dataset
    run = tmp_path / "run"
    shutil.copytree(wm_run, run)
    assert _train_wm(root, run, "--resume", "--set", "world_model.deter=48") == 2
    err = capsys.readouterr().err
    assert "world_model.deter: 32 in the checkpoint, 48 now" in err
    assert "size mismatch" not in err and len(err.strip().splitlines()) == 1


# --- 4. numbers ------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, option", [
    (["evaluate", "--policy", "random", "--chains", "-3"], "--chains"),
    (["evaluate", "--policy", "random", "--chains", "0"], "--chains"),
    (["evaluate", "--policy", "random", "--max-steps", "0"], "--max-steps"),
    (["evaluate", "--policy", "random", "--workers", "0"], "--workers"),
    (["train-wm", "--out", "x", "--max-minutes", "nan"], "--max-minutes"),
    (["train-wm", "--out", "x", "--max-minutes", "-1"], "--max-minutes"),
    (["chains", "--count", "0"], "--count"),
    (["ladder", "state-bc", "--steps", "0"], "--steps"),
    (["benchmark", "efficiency", "--features", "f", "--levels", "0"], "--levels"),
    (["benchmark", "efficiency", "--features", "f", "--batches", "LUMSO=3"], "--batches"),
    (["benchmark", "efficiency", "--features", "f", "--batches", "GCBC=0"], "--batches"),
    (["demo", "--seconds-per-task", "inf"], "--seconds-per-task"),
])
def test_numeric_options_are_range_checked(argv, option, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert option in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_config_floats_are_rejected(value, capsys):
    assert main(["config", "show", "--set", f"wm_train.lr={value}"]) == 2
    assert "wm_train.lr: expected a finite number" in capsys.readouterr().err


# --- 5. featurize ----------------------------------------------------------------------------
def test_featurize_names_the_dataset_and_never_succeeds_with_nothing(wm_run, tmp_path, capsys):
    ckpt = sorted((wm_run / "checkpoints").iterdir())[-1]
    not_a_dataset = tmp_path / "photos"
    not_a_dataset.mkdir()
    out = tmp_path / "feats"
    assert main(["featurize", str(ckpt), "--dataset", str(not_a_dataset),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--dataset {not_a_dataset}: not a CALVIN-format dataset" in err


# --- 6. collect ------------------------------------------------------------------------------
def test_one_episode_collect_fails_before_recording(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["collect", "--set", "collect.frames=100", "--set", "collect.episode_length=100",
                 "--set", "sim.render=false", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "one episode" in err and "collect.validation_fraction=0" in err
    assert not (out / "training").exists()


def test_training_only_collect_writes_no_empty_validation(tmp_path):
    from lumos_core.config import CollectConfig, SimConfig
    from lumos_core.sim.collect import collect

    cfg = CollectConfig(frames=60, episode_length=60, validation_fraction=0.0, workers=1,
                        lang_density=0.0)
    summary = collect(tmp_path, SimConfig(render=False), cfg, {}, progress=False)
    assert not (tmp_path / "validation").exists() and "validation" not in summary
    assert summary["training"]["frames"] == 60


# --- 7. damaged metadata and failed writes ---------------------------------------------------
@pytest.mark.parametrize("field, value", [("files", []), ("config", "x"),
                                          ("files", {"model.safetensors": 3})])
def test_meta_json_of_the_wrong_shape_is_one_line(policy_checkpoint, tmp_path, capsys,
                                                  field, value):
    import shutil

    ckpt = tmp_path / "c"
    shutil.copytree(policy_checkpoint, ckpt)
    meta = json.loads((ckpt / "meta.json").read_text())
    meta[field] = value
    (ckpt / "meta.json").write_text(json.dumps(meta))
    assert main(["checkpoint", "info", str(ckpt)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lumos: {ckpt / 'meta.json'}: ") and field in err
    assert len(err.splitlines()) == 1


def test_a_failed_checkpoint_write_names_the_checkpoint(tmp_path, monkeypatch):
    import torch

    from lumos_core.checkpoint import CheckpointError, save_checkpoint
    from lumos_core.config import load_config

    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 766400 "
                           "vs 766288")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointError, match="could not write the checkpoint") as err:
        save_checkpoint(tmp_path / "c", kind="policy", modules={"a": torch.nn.Linear(2, 2)},
                        config=load_config("debug"), training_state={"step": 1})
    assert str(tmp_path / "c") in str(err.value) and "disk" in str(err.value)
    assert not (tmp_path / "c").exists() and not list(tmp_path.glob(".c.tmp-*"))


# --- 8. packed cache -------------------------------------------------------------------------
def test_packed_cache_notices_deleted_and_changed_frames(tmp_path):
    from conftest import write_random_episodes

    from lumos_core.data.calvin import DatasetError, frame_name
    from lumos_core.data.dataset import PlayData

    split = write_random_episodes(tmp_path / "training", [6, 5])
    first = PlayData(split, images=False, progress=False)
    old = np.array(first.arrays["robot_obs"][2])
    path = split / frame_name(2)
    with np.load(path) as f:
        frame = {k: f[k] for k in f.files}
    frame["robot_obs"] = frame["robot_obs"] + 1.0
    np.savez(path, **frame)
    changed = PlayData(split, images=False, progress=False)
    assert np.allclose(changed.arrays["robot_obs"][2], old + 1.0)
    (split / frame_name(3)).unlink()
    with pytest.raises(DatasetError, match="frame file is missing"):
        PlayData(split, images=False, progress=False)


# --- what a user expects to see --------------------------------------------------------------
def test_user_errors_are_one_line_and_debug_shows_the_traceback(tmp_path):
    cmd = [sys.executable, "-m", "lumos_core.cli", "checkpoint", "info", str(tmp_path / "no")]
    plain = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert plain.stderr.strip().splitlines() == [
        f"lumos: {tmp_path / 'no'}: checkpoint does not exist"]
    debug = subprocess.run(cmd[:3] + ["--debug"] + cmd[3:], capture_output=True, text=True,
                           timeout=120)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_checkpoint_info_says_it_verified(policy_checkpoint, capsys):
    assert main(["checkpoint", "info", str(policy_checkpoint)]) == 0
    assert "verified:       yes" in capsys.readouterr().out


def test_gifs_play_at_the_control_rate(tmp_path):
    from PIL import Image

    from lumos_core.media import frame_ms, save_gif

    assert frame_ms(15) == 70 and frame_ms(30) == 30 and frame_ms(7.5) == 130
    frames = [np.full((4, 4, 3), i * 40, np.uint8) for i in range(4)]
    gif = save_gif(tmp_path / "a.gif", frames, 30)
    assert Image.open(gif).info["duration"] == 30


def test_train_agent_writes_curves_from_the_first_batches(wm_run, sim_dataset, tmp_path,
                                                          capsys):
    root, _, _ = sim_dataset
    ckpt = sorted((wm_run / "checkpoints").iterdir())[-1]
    feats = tmp_path / "feats"
    assert main(["featurize", str(ckpt), "--dataset", str(root), "--out", str(feats)]) == 0
    run = tmp_path / "agent"
    assert main(["train-agent", *STATE_DEBUG, "--features", str(feats), "--out", str(run),
                 "--set", "agent_train.steps=12"]) == 0
    assert (run / "curves.png").exists() and "curves:" in capsys.readouterr().out
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text()
             .splitlines()]
    assert steps[:2] == [1, 5]
    assert main(["train-agent", *STATE_DEBUG, "--features", str(feats), "--out", str(run),
                 "--set", "agent_train.steps=12"]) == 2          # runs never mix
    assert "already holds a run" in capsys.readouterr().err


def test_wm_report_in_state_mode_reads_right(wm_run, sim_dataset, tmp_path, capsys):
    ckpt = sorted((wm_run / "checkpoints").iterdir())[-1]
    root, _, _ = sim_dataset
    assert main(["wm-report", str(ckpt), "--dataset", str(root), "--horizon", "10",
                 "--sequences", "1", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "mse MSE" not in out and "state (normalised per dimension) MSE" in out
    assert "largest errors:" in out
    summary = json.loads((tmp_path / "r" / "open_loop.json").read_text())
    assert len(summary["per_dimension"]) == 39


def test_annotate_refuses_unknown_tasks_and_keeps_an_unfinished_session(sim_dataset, tmp_path,
                                                                        encoder):
    import io
    import shutil

    from lumos_core.annotate import run
    from lumos_core.data.calvin import DatasetError

    root, _, _ = sim_dataset
    split = tmp_path / "training"
    shutil.copytree(root / "training", split)
    answers = iter(["opne_drawer: pull the drawer", "n", "open_drawer: pull the drawer", "q"])
    out = io.StringIO()
    summary = run(split, 3, 8, 0, tmp_path / "gifs", encoder=encoder,
                  read=lambda prompt: next(answers), out=out)
    assert "unknown task 'opne_drawer'" in out.getvalue()
    assert summary["windows"] == 3 and summary["answered"] == 1 and summary["stopped"]
    with pytest.raises(DatasetError, match="unfinished session"):
        run(split, 3, 8, 1, tmp_path / "gifs", encoder=encoder, read=lambda p: "q",
            out=io.StringIO())
    summary = run(split, 3, 8, 1, tmp_path / "gifs", encoder=encoder, read=lambda p: "q",
                  out=io.StringIO(), new_session=True)
    assert summary["answered"] == 0


@pytest.mark.parametrize("command", [["train-agent", "--features", "f"], ["train-wm"]])
def test_init_from_and_resume_exclude_each_other(tmp_path, capsys, command):
    assert main(command + ["--out", str(tmp_path / "o"), "--init-from", str(tmp_path / "p"),
                           "--resume"]) == 2
    assert "--init-from starts a new run; --resume continues one" in capsys.readouterr().err


def test_other_world_model_needs_init_from(tmp_path, capsys):
    assert main(["train-agent", "--features", "f", "--out", str(tmp_path / "o"),
                 "--other-world-model"]) == 2
    assert "--other-world-model goes with --init-from" in capsys.readouterr().err
