"""`lumos benchmark agents` runs every stage end to end (smoke profile: seconds, no claims)."""

import json

import torch

from lumos_core.benchmark_agents import VARIANTS, run


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
    assert (tmp_path / "success.png").is_file()
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["profile"] == "smoke" and data["timings"]["total_min"] > 0


def test_efficiency_curve_smoke(sim_dataset, tmp_path):
    from lumos_core.benchmark_agents import efficiency, run

    run("smoke", tmp_path / "bench", dataset=sim_dataset[0], progress=False)
    result = efficiency(tmp_path / "bench" / "features", tmp_path / "eff", levels=(1, 2),
                        variants=("GCBC",), minutes=0.02, chains=1, workers=1,
                        progress=False)
    assert [r["windows_per_task"] for r in result["rows"]] == [1, 2]
    text = (tmp_path / "eff" / "efficiency.md").read_text()
    assert "agent.lang_per_task=2" in text and "| GCBC | 2 |" in text
    assert (tmp_path / "eff" / "efficiency.png").is_file()
