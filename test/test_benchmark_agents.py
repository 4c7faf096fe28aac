"""`lumos benchmark agents` runs every stage end to end (smoke profile: seconds, no claims)."""

import json

import torch

from lumos_core.benchmark_agents import VARIANTS, run


def test_smoke_profile_end_to_end(sim_dataset, tmp_path):
    torch.set_num_threads(1)
    result = run("smoke", tmp_path, dataset=sim_dataset[0], progress=False)
    assert set(result["reports"]) == set(VARIANTS)
    report = (tmp_path / "report.md").read_text()
    for name in VARIANTS:
        assert f"| {name} |" in report
    assert "lumos train-agent --preset state --set agent.method=gcbc" in report
    assert (tmp_path / "success.png").is_file()
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["profile"] == "smoke" and data["timings"]["total_min"] > 0
