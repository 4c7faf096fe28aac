"""Evaluation chains and the CALVIN multistep harness."""

import json

import numpy as np
import pytest

from lumos_core.config import SimConfig
from lumos_core.evaluation import _run_job as _RUN_JOB
from lumos_core.evaluation import (aggregate, evaluate, markdown_table, metrics,
                                   position_table)
from lumos_core.instructions import load_instruction_file
from lumos_core.paths import config_file
from lumos_core.sim.chains import CHAIN_LENGTH, generate_chain, load_chains
from lumos_core.sim.env import PlayTableEnv
from lumos_core.sim.tasks import TASKS


@pytest.fixture(scope="module")
def eval_instructions():
    return load_instruction_file(config_file("sim_instructions_eval.yaml"))


def test_fixed_chain_list():
    chains = load_chains()
    assert len(chains) == 1000
    for chain in chains:
        assert len(chain["tasks"]) == CHAIN_LENGTH == len(set(chain["tasks"]))
        assert set(chain["tasks"]) <= set(TASKS)
        assert len(chain["robot_obs"]) == 15 and len(chain["scene_obs"]) == 24
    used = {t for c in chains for t in c["tasks"]}
    assert used == set(TASKS), f"tasks never used: {set(TASKS) - used}"


def test_chain_generation_is_seeded():
    with PlayTableEnv(SimConfig(render=False)) as env:
        first = generate_chain(env, seed=7)
    with PlayTableEnv(SimConfig(render=False)) as env:
        second = generate_chain(env, seed=7)
    assert first["tasks"] == second["tasks"]
    assert np.allclose(first["scene_obs"], second["scene_obs"])


def test_harness_runs_expert_and_random(tmp_path, eval_instructions):
    chains = load_chains()[:3]
    expert = evaluate("expert", chains, eval_instructions, [0], tmp_path / "expert",
                      progress=False, videos=1)
    assert expert["summary"]["avg_len_mean"] >= 4.0, expert["per_seed"]
    random = evaluate("random", chains, eval_instructions, [0, 1], tmp_path / "random",
                      progress=False, max_steps=60)
    assert random["summary"]["avg_len_mean"] < expert["summary"]["avg_len_mean"]
    assert random["summary"]["seeds"] == 2
    for name in ("results.json", "results.md", "success.png", "rollout_chain0000.gif"):
        assert (tmp_path / "expert" / name).is_file(), name
    detail = json.loads((tmp_path / "expert" / "results.json").read_text())["chains_detail"]
    train = load_instruction_file(config_file("sim_instructions_train.yaml"))
    for chain in detail:
        for sub in chain["subtasks"]:
            assert sub["instruction"] in eval_instructions[sub["task"]]
            assert sub["instruction"] not in train[sub["task"]]


def test_metrics_by_hand():
    def chain(*results):
        return {"completed": sum(results[:results.index(False)] if False in results
                                 else results),
                "subtasks": [{"task": f"t{i}", "success": r} for i, r in enumerate(results)]}

    results = [chain(True, True, False), chain(True, True, True, True, True), chain(False)]
    m = metrics(results)
    assert m["success_rate"] == pytest.approx([2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3])
    assert m["avg_len"] == pytest.approx(7 / 3)
    assert m["per_task"]["t0"] == {"success": 2, "total": 3, "rate": 2 / 3,
                                   "later_success": 0, "later_total": 0}
    assert m["per_task"]["t2"] == {"success": 1, "total": 2, "rate": 0.5,
                                   "later_success": 1, "later_total": 2}
    # success given the position was reached: where chains break
    assert [(p["success"], p["attempts"]) for p in m["per_position"]] == [
        (2, 3), (2, 2), (1, 2), (1, 1), (1, 1)]
    text = position_table({"per_seed": [m]})
    assert "| success given reached | 67 % (3) | 100 % (2) | 50 % (2) |" in text
    assert "| t2 | – | 50 % (2) |" in text
    agg = aggregate([m, metrics(results[:1])])
    assert agg["avg_len_mean"] == pytest.approx((7 / 3 + 2) / 2)
    assert agg["chains_total"] == 4 and agg["avg_len_ci95"] > 0
    table = markdown_table({"x": {"summary": agg}})
    assert "2.17 ± " in table and "(seed std 0.17)" in table and "| 4 |" in table


def _counting_jobs(monkeypatch, fail_at: int | None = None) -> list:
    """Replace the per-chain job by one that records (seed, chain) and, optionally, crashes
    when asked to run its ``fail_at``-th chain (an interruption, a killed worker)."""
    import lumos_core.evaluation as evaluation

    ran, run_job = [], _RUN_JOB

    def job(j):
        if fail_at is not None and len(ran) == fail_at:
            raise RuntimeError("simulated crash")
        ran.append((j.seed, j.chain_index))
        return run_job(j)

    monkeypatch.setattr(evaluation, "_run_job", job)
    return ran


def test_an_interrupted_evaluation_keeps_its_chains_and_resumes(
        tmp_path, eval_instructions, monkeypatch, capsys):
    chains, out = load_chains()[:4], tmp_path / "eval"
    ran = _counting_jobs(monkeypatch, fail_at=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        evaluate("random", chains, eval_instructions, [0], out, max_steps=5, progress=False)
    assert "--resume" in capsys.readouterr().err
    logged = [json.loads(line) for line in (out / "chains.jsonl").read_text().splitlines()]
    assert logged[0] == {"header": {"policy": "random", "max_steps": 5, "grounding": "task"}}
    assert [(r["seed"], r["chain"]) for r in logged[1:]] == ran == [(0, 0), (0, 1)]

    ran = _counting_jobs(monkeypatch)
    report = evaluate("random", chains, eval_instructions, [0], out, max_steps=5,
                      progress=False, resume=True)
    assert ran == [(0, 2), (0, 3)]                    # only the chains the first run lost
    assert report["summary"]["chains_total"] == 4
    detail = json.loads((out / "results.json").read_text())["chains_detail"]
    assert [r["chain"] for r in detail] == [0, 1, 2, 3]
    assert detail[:2] == logged[1:]                   # the reused results, unchanged

    # extending the finished evaluation to another seed runs that seed only
    ran = _counting_jobs(monkeypatch)
    report = evaluate("random", chains[:2], eval_instructions, [0, 1], out, max_steps=5,
                      progress=False, resume=True)
    assert ran == [(1, 0), (1, 1)]
    assert report["summary"]["chains_total"] == 4 and report["summary"]["seeds"] == 2
    # ... and the log still holds chains 2 and 3 of seed 0, outside that evaluation's range
    logged = [json.loads(line) for line in (out / "chains.jsonl").read_text().splitlines()]
    assert sorted((r["seed"], r["chain"]) for r in logged[1:]) == [
        (0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]


@pytest.mark.parametrize("change", ["policy", "max_steps", "chains", "instructions",
                                    "grounding", "executor"])
def test_resume_refuses_a_different_evaluation(tmp_path, eval_instructions, monkeypatch,
                                               change):
    from lumos_core.evaluation import ResumeError

    chains, out = load_chains()[:2], tmp_path / "eval"
    evaluate("random", chains, eval_instructions, [0], out, max_steps=5, progress=False)
    kwargs = {"policy": "random", "chains": chains, "instructions": eval_instructions,
              "max_steps": 5}
    if change == "policy":
        kwargs["policy"] = "expert"
    elif change == "max_steps":
        kwargs["max_steps"] = 6
    elif change == "chains":
        kwargs["chains"] = load_chains()[5:7]
    elif change == "grounding":
        kwargs["grounding"] = "off"
    elif change == "executor":
        kwargs["executor"] = ["action_executor.yaml"]
    else:
        kwargs["instructions"] = load_instruction_file(config_file("sim_instructions_train.yaml"))
    ran = _counting_jobs(monkeypatch)
    with pytest.raises(ResumeError, match="--resume"):
        evaluate(seeds=[0], out_dir=out, progress=False, resume=True, **kwargs)
    assert ran == []
    assert json.loads((out / "results.json").read_text())["policy"] == "random"   # kept

    (out / "results.json").write_text("{truncated")
    with pytest.raises(ResumeError, match="not a readable evaluation report"):
        evaluate("random", chains, eval_instructions, [0], out, max_steps=5, progress=False,
                 resume=True)


def test_an_evaluation_from_before_grounding_resumes_only_without_it(
        tmp_path, eval_instructions, monkeypatch):
    """Logs written before grounding existed have no 'grounding' key: they embedded the
    instructions as given, so they continue with --grounding off only."""
    from lumos_core.evaluation import ResumeError

    chains, out = load_chains()[:2], tmp_path / "eval"
    evaluate("random", chains[:1], eval_instructions, [0], out, max_steps=5, progress=False)
    log = out / "chains.jsonl"
    lines = log.read_text().splitlines()
    lines[0] = json.dumps({"header": {"policy": "random", "max_steps": 5}})
    log.write_text("\n".join(lines) + "\n")
    (out / "results.json").unlink()
    with pytest.raises(ResumeError, match="grounding = 'off', this one has 'task'"):
        evaluate("random", chains, eval_instructions, [0], out, max_steps=5, progress=False,
                 resume=True)
    ran = _counting_jobs(monkeypatch)
    report = evaluate("random", chains, eval_instructions, [0], out, max_steps=5,
                      progress=False, resume=True, grounding="off")
    assert ran == [(0, 1)] and report["grounding"] == "off"
    with pytest.raises(ValueError, match="grounding must be one of"):
        evaluate("random", chains, eval_instructions, [0], max_steps=5, progress=False,
                 grounding="nearest")


def _report(outcomes: dict[int, int], seed: int = 0) -> dict:
    return {"policy": "p", "chains_detail": [
        {"seed": seed, "chain": c, "completed": k, "subtasks": []} for c, k in outcomes.items()]}


def test_paired_comparison_by_hand():
    from lumos_core.evaluation import paired_comparison, paired_table

    # b was evaluated on more chains (chain 3 is easy), c on fewer: only chains 0-1 are common
    reports = {"a": _report({0: 1, 1: 3, 2: 0}), "b": _report({0: 2, 1: 3, 2: 1, 3: 5}),
               "c": {**_report({0: 0, 1: 1}), "grounding": "task"}}
    cmp = paired_comparison(reports)
    assert cmp["reference"] == "a" and cmp["pairs"] == 2
    rows = {r["name"]: r for r in cmp["rows"]}
    assert rows["b"]["chains_total"] == 4 and rows["b"]["avg_len"] == 2.5   # not 2.75
    assert rows["b"]["diff"] == 0.5 and (rows["b"]["better"], rows["b"]["worse"]) == (1, 0)
    assert rows["c"]["diff"] == -1.5 and (rows["c"]["better"], rows["c"]["worse"]) == (0, 2)
    # d = (-1, -2): mean -1.5, sample std 0.7071 -> 1.96 * 0.7071 / sqrt(2) = 0.98
    assert abs(rows["c"]["diff_ci95"] - 0.98) < 1e-9
    assert abs(paired_comparison(reports, "b")["rows"][0]["diff"] + 0.5) < 1e-12
    table = paired_table(cmp)
    assert "| c | task | 2 | 0.50 ± " in table and "| a | off | 3 |" in table
    assert "-1.50 ± 0.98" in table and "0 / 2" in table


def test_paired_comparison_refuses_what_it_cannot_compare():
    from lumos_core.evaluation import ReportError, paired_comparison

    with pytest.raises(ReportError, match="at least two"):
        paired_comparison({"a": _report({0: 1})})
    with pytest.raises(ReportError, match="share no"):
        paired_comparison({"a": _report({0: 1}), "b": _report({0: 1}, seed=1)})
    with pytest.raises(ReportError, match="reference 'z'"):
        paired_comparison({"a": _report({0: 1}), "b": _report({0: 1})}, "z")
