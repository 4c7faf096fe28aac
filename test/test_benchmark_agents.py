"""`lumos benchmark agents` runs every stage end to end (smoke profile: seconds, no claims)."""

import json
from pathlib import Path

import pytest
import torch

from lumos_core.benchmarks.agents import VARIANTS, run


def data_chains(root, slug):
    return json.loads((root / "eval" / slug / "results.json").read_text())["chains"]


def test_smoke_profile_end_to_end(sim_dataset, tmp_path):
    torch.set_num_threads(1)
    result = run("smoke", tmp_path, dataset=sim_dataset[0], progress=False)
    assert set(result["reports"]) == set(VARIANTS)
    report = (tmp_path / "report.md").read_text()
    for name in VARIANTS:
        assert f"| {name} |" in report
    assert "--set agent.method=gcbc --features" in report
    assert "2 chains for LUMOS and GCBC, 1 for the others" in report
    assert data_chains(tmp_path, "gcbc") == 2 and data_chains(tmp_path, "mcil") == 1
    # LUMOS and GCBC ran 2 chains, the others 1: the paired view uses the one all share
    assert "## Paired on the common chains" in report
    assert "1 (seed, chain) pairs evaluated for every policy; differences to LUMOS" in report
    assert (tmp_path / "success.png").is_file()
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["profile"] == "smoke" and data["timings"]["total_min"] > 0


def test_efficiency_curve_smoke(sim_dataset, tmp_path):
    from lumos_core.benchmarks.agents import run
    from lumos_core.benchmarks.efficiency import efficiency

    run("smoke", tmp_path / "bench", dataset=sim_dataset[0], progress=False)
    result = efficiency(tmp_path / "bench" / "features", tmp_path / "eff", levels=(1, 2),
                        variants=("GCBC",), minutes=0.02, chains=1, workers=1,
                        progress=False)
    assert [r["windows_per_task"] for r in result["rows"]] == [1, 2]
    text = (tmp_path / "eff" / "efficiency.md").read_text()
    assert "agent.lang_per_task=2" in text and "| GCBC | 2 |" in text
    assert (tmp_path / "eff" / "efficiency.png").is_file()
    # a fixed batch budget instead of minutes: exactly that many batches, no time limit
    result = efficiency(tmp_path / "bench" / "features", tmp_path / "eff_batches", levels=(1,),
                        variants=("GCBC",), chains=1, workers=1, progress=False,
                        batches={"GCBC": 3})
    assert [r["steps"] for r in result["rows"]] == [3]
    command = json.loads((tmp_path / "eff_batches" / "efficiency.json").read_text())["commands"][0]
    assert "agent_train.steps=3" in command and "--max-minutes" not in command


def test_efficiency_batches_are_checked(tmp_path):
    from argparse import ArgumentTypeError

    from lumos_core.benchmarks.agents import batch_item
    from lumos_core.benchmarks.efficiency import efficiency

    assert batch_item("LUMOS=4340") == ("LUMOS", 4340)
    assert batch_item("no DITTO (BC)=2") == ("no DITTO (BC)", 2)
    for bad, message in (("LUMOS", "VARIANT=N"), ("LUMSO=3", "unknown variant 'LUMSO'"),
                         ("GCBC=0", "must be >= 1, got 0"),
                         ("GCBC=ten", "expected an integer, got 'ten'")):
        with pytest.raises(ArgumentTypeError, match=message):
            batch_item(bad)
    with pytest.raises(ValueError, match="'MCIL', which are not among the variants run"):
        efficiency(tmp_path / "f", tmp_path / "out", variants=("GCBC",),
                   batches={"MCIL": 3})
    assert not (tmp_path / "out").exists()


def test_efficiency_long_profile_trains_every_variant_the_long_recipe(tmp_path):
    from lumos_core.benchmarks.agents import LONG_BATCHES, LONG_RECIPE
    from lumos_core.benchmarks.efficiency import RECIPES, profile_budget
    from lumos_core.cli import build_parser

    assert profile_budget("long", ("LUMOS", "GCBC"), {}) == {"LUMOS": LONG_BATCHES,
                                                             "GCBC": LONG_BATCHES}
    assert profile_budget("long", ("LUMOS", "GCBC"), {"GCBC": 7}) == {"LUMOS": LONG_BATCHES,
                                                                      "GCBC": 7}
    assert profile_budget("cpu", ("LUMOS", "GCBC"), {}) == {}        # --minutes decides
    assert RECIPES["long"][0] == tuple(LONG_RECIPE)
    with pytest.raises(ValueError, match="unknown profile 'longest'; known: cpu, long"):
        profile_budget("longest", ("GCBC",), {})
    args = build_parser().parse_args(["benchmark", "efficiency", "--features", "f",
                                      "--profile", "long", "--recipe-set", "agent_train.seed=2"])
    assert args.profile == "long" and args.recipe_set == ["agent_train.seed=2"]


def test_interrupted_benchmark_reuses_finished_trainings_only(tmp_path):
    from lumos_core.benchmarks.agents import _trained

    run_dir = tmp_path / "agents" / "gcbc"
    argv = ["train-agent", "--set", "agent.method=gcbc", "--out", str(run_dir)]
    assert _trained(argv) is None                                  # nothing yet
    (run_dir / "checkpoints" / "step_00000042").mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text(json.dumps({"windows_per_s": 5.0}) + "\n")
    assert _trained(argv) is None                                  # not finished: no command
    (run_dir / "command.json").write_text(json.dumps(argv))
    assert _trained(argv) == (str(run_dir / "checkpoints" / "step_00000042"), 42, 5.0)
    other = argv[:2] + ["agent.method=mcil"] + argv[3:]
    assert _trained(other) is None                                 # another command


def test_vision_pipeline_dry_run(sim_dataset, tmp_path):
    """The device run's pipeline (issue 17, scripts/gpu_vision_run.sh) at tiny size on the CPU:
    a vision world model trained from the camera dataset, its open-loop report, features,
    LUMOS and GCBC side by side from one --minutes budget, chains rendered for the cameras."""
    from lumos_core.benchmarks.agents import BUDGET_SHARES
    from lumos_core.checkpoint import read_meta

    torch.set_num_threads(1)
    result = run("smoke", tmp_path, dataset=sim_dataset[0], preset="debug",
                 variants=("LUMOS", "GCBC"), minutes=0.1, progress=False)
    assert set(result["reports"]) == {"LUMOS", "GCBC"}
    wm = tmp_path / "world_model" / "checkpoints" / "deploy"
    assert read_meta(wm)["config"]["world_model"]["obs_mode"] == "vision"
    assert (tmp_path / "world_model" / "report" / "open_loop.json").is_file()
    policy = sorted((tmp_path / "agents" / "gcbc" / "checkpoints").glob("step_*"))[-1]
    assert read_meta(policy)["config"]["world_model"]["obs_mode"] == "vision"
    report = (tmp_path / "report.md").read_text()
    assert "preset `debug`" in report and "Vision (static + gripper cameras)" in report
    minutes = f"--max-minutes {BUDGET_SHARES['world_model'] * 0.1:g}"
    assert minutes in report and "| no alignment |" not in report
    assert data_chains(tmp_path, "gcbc") == 2


def test_unknown_variant_is_named(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="'LUMOS2'.*known: LUMOS"):
        run("smoke", tmp_path, variants=("LUMOS2",), progress=False)


def test_no_eval_stops_after_training(sim_dataset, tmp_path):
    """--no-eval (a GPU machine without pybullet): the checkpoints and the evaluation commands
    are listed, nothing is evaluated."""
    torch.set_num_threads(1)
    result = run("smoke", tmp_path, dataset=sim_dataset[0], variants=("GCBC",),
                 evaluate_chains=False, progress=False)
    data = json.loads((tmp_path / "trained.json").read_text())
    policy = data["trained"]["GCBC"]["policy"]
    assert result["trained"]["GCBC"]["policy"] == policy and Path(policy).exists()
    assert any(c.startswith("lumos evaluate --policy") and policy in c
               for c in data["commands"])
    assert not (tmp_path / "report.md").exists() and not (tmp_path / "eval").exists()


def test_fixed_batches_and_agent_overrides(sim_dataset, tmp_path):
    """--batches: a variant trains exactly N batches (no time limit), the others keep the
    profile's minutes; --agent-set reaches every training (e.g. another training seed)."""
    torch.set_num_threads(1)
    result = run("smoke", tmp_path, dataset=sim_dataset[0], variants=("GCBC", "MCIL"),
                 batches={"GCBC": 3}, agent_sets=("agent_train.seed=5",),
                 evaluate_chains=False, progress=False)
    assert result["trained"]["GCBC"]["train_steps"] == 3
    gcbc, mcil = (next(c for c in result["commands"] if f"agents/{slug}" in c
                       and c.startswith("lumos train-agent")) for slug in ("gcbc", "mcil"))
    assert "agent_train.steps=3 " in gcbc and "--max-minutes" not in gcbc
    assert "--max-minutes" in mcil and "agent_train.steps=10000000" in mcil
    assert "agent_train.seed=5" in gcbc and "agent_train.seed=5" in mcil
    with pytest.raises(ValueError, match="'LUMOS', which are not among the variants run"):
        run("smoke", tmp_path / "bad", dataset=sim_dataset[0], variants=("GCBC",),
            batches={"LUMOS": 3}, evaluate_chains=False, progress=False)
    with pytest.raises(ValueError, match="positive integers"):
        run("smoke", tmp_path / "bad", dataset=sim_dataset[0], variants=("GCBC",),
            batches={"GCBC": 0}, evaluate_chains=False, progress=False)
    assert not (tmp_path / "bad").exists()       # refused before any work


def test_long_profile_trains_every_row_the_same_batches_and_recipe(tmp_path, monkeypatch):
    """Profile `long`: every row trains LONG_BATCHES batches (no time limit) with the
    session-22-24 recipe, --batches still overrides one row, --minutes replaces the batches
    by time; the recipe's settings are valid for every row."""
    import lumos_core.benchmarks.agents as agents
    from lumos_core.config import load_config

    seen = {}

    def fake_train(jobs, parallel, log_dir):
        seen["jobs"] = jobs
        raise SystemExit("stop before training")

    monkeypatch.setattr(agents, "train_parallel", fake_train)
    monkeypatch.setattr("lumos_core.featurize.features_match", lambda *a: True)
    data = tmp_path / "data"
    (data / "training").mkdir(parents=True)
    with pytest.raises(SystemExit):
        agents.run("long", tmp_path / "out", dataset=data, world_model=tmp_path / "wm",
                   batches={"GCBC": 7}, progress=False)
    commands = {name: " ".join(argv) for name, _, argv in seen["jobs"]}
    assert set(commands) == set(VARIANTS)
    for name, command in commands.items():
        steps = 7 if name == "GCBC" else agents.LONG_BATCHES
        assert f"agent_train.steps={steps} " in command and "--max-minutes" not in command
        assert "agent_train.anneal_at=13232" in command
        sets = [a for a in command.split() if "=" in a and not a.startswith("--")]
        load_config("state", sets)        # every row's settings validate
    with pytest.raises(SystemExit):
        agents.run("long", tmp_path / "out2", dataset=data, world_model=tmp_path / "wm",
                   minutes=30, variants=("GCBC",), progress=False)
    assert "--max-minutes" in " ".join(seen["jobs"][0][2])


def test_rerun_reuses_the_world_model_trainings_and_evaluated_chains(sim_dataset, tmp_path):
    """The same command again (an interrupted benchmark, or more chains asked for): the world
    model and the trainings are reused, the evaluations resume -- their finished chains are
    kept as they were (a marker put into them survives), only the new ones run -- and the
    first run's timings stay in the report."""
    torch.set_num_threads(1)
    run("smoke", tmp_path, dataset=sim_dataset[0], variants=("GCBC",), progress=False)
    first = json.loads((tmp_path / "report.json").read_text())
    assert first["reused"] == [] and "world_model_min" in first["timings"]
    results = tmp_path / "eval" / "gcbc" / "results.json"
    data = json.loads(results.read_text())
    for chain in data["chains_detail"]:
        chain["marker"] = "kept"
    results.write_text(json.dumps(data))
    (tmp_path / "eval" / "gcbc" / "chains.jsonl").unlink()

    run("smoke", tmp_path, dataset=sim_dataset[0], variants=("GCBC",), main_chains=3,
        progress=False)
    second = json.loads((tmp_path / "report.json").read_text())
    assert second["reused"] == ["world model", "training of GCBC"]
    assert "world_model_min" not in second["timings"]
    assert second["earlier_timings"] == first["timings"]
    detail = {c["chain"]: c for c in json.loads(results.read_text())["chains_detail"]}
    assert sorted(detail) == [0, 1, 2]
    assert [detail[i].get("marker") for i in range(3)] == ["kept", "kept", None]
    report = (tmp_path / "report.md").read_text()
    assert "Reused from an earlier run of the same command" in report
    assert "world model, training of GCBC" in report


def test_training_seeds_are_rows_and_summarised(sim_dataset, tmp_path):
    """--train-seeds: every variant trained and evaluated once per training seed (its own
    directory and agent_train.seed), the report's mean over seeds pairs each seed's rows."""
    import math

    torch.set_num_threads(1)
    result = run("smoke", tmp_path, dataset=sim_dataset[0], variants=("LUMOS", "GCBC"),
                 batches={"LUMOS": 2, "GCBC": 2}, train_seeds=(3, 4),
                 agent_sets=("agent.history_free_prob=0.2",), progress=False)
    rows = ["LUMOS (seed 3)", "LUMOS (seed 4)", "GCBC (seed 3)", "GCBC (seed 4)"]
    assert list(result["reports"]) == rows
    for slug, seed in (("lumos_s3", 3), ("gcbc_s4", 4)):
        command = next(c for c in result["commands"] if f"agents/{slug} " in c + " "
                       and c.startswith("lumos train-agent"))
        assert f"agent_train.seed={seed} " in command
        assert data_chains(tmp_path, slug) == 2         # LUMOS and GCBC: main chains
    report = (tmp_path / "report.md").read_text()
    assert "training seeds [3, 4]: every variant trained and evaluated once per seed" in report
    assert "## Over the training seeds" in report
    # the override replaces the profile's value in the report's settings, not beside it
    settings = next(line for line in report.splitlines()
                    if line.startswith("Settings common to every variant"))
    assert "`agent.history_free_prob=0.2`" in settings
    assert "agent.history_free_prob=0.1" not in settings
    data = json.loads((tmp_path / "report.json").read_text())
    lumos, gcbc = data["over_seeds"]

    def avg(row):
        return result["reports"][row]["summary"]["avg_len_mean"]

    assert lumos["variant"] == "LUMOS" and lumos["mean_diff"] is None
    diffs = [gcbc["per_seed"][s]["diff"] for s in ("3", "4")]
    halves = [gcbc["per_seed"][s]["diff_ci95"] for s in ("3", "4")]
    assert gcbc["mean_diff"] == pytest.approx(sum(diffs) / 2)
    assert gcbc["mean_diff_ci95"] == pytest.approx(math.hypot(*halves) / 2)
    for s in ("3", "4"):    # each seed's difference is that seed's rows' own difference
        own = avg(f"GCBC (seed {s})") - avg(f"LUMOS (seed {s})")
        assert gcbc["per_seed"][s]["diff"] == pytest.approx(own)
    assert gcbc["mean_avg_len"] == pytest.approx((avg("GCBC (seed 3)")
                                                  + avg("GCBC (seed 4)")) / 2)


def test_training_seeds_are_checked(tmp_path):
    with pytest.raises(ValueError, match="repeat"):
        run("smoke", tmp_path / "a", train_seeds=(1, 1), progress=False)
    with pytest.raises(ValueError, match="set the training seed: give one"):
        run("smoke", tmp_path / "b", train_seeds=(1,), agent_sets=("agent_train.seed=2",),
            progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    from lumos_core.cli import build_parser

    args = build_parser().parse_args(["benchmark", "agents", "--train-seeds", "2", "42"])
    assert args.train_seeds == [2, 42]


def test_report_settings_keep_each_key_once_with_its_final_value():
    from lumos_core.benchmarks.agents import effective_settings

    assert effective_settings(("agent.bc_warmup=13232", "agent.horizon=8",
                               "agent.bc_warmup=26464", "agent_train.seed=2")) == [
        "agent.bc_warmup=26464", "agent.horizon=8", "agent_train.seed=2"]
    assert effective_settings(()) == []
