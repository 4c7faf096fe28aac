"""`lumos benchmark agents`: the paper's Table I analogue in state mode on the simulator.

One command: collect (or reuse) play data, train the state world model (or reuse one),
featurize, train LUMOS, each ablation and each baseline for the same time budget, and evaluate
all of them on the same chains with the same seeds. Writes ``report.md`` (success of 1..5 in a
row, average chain length, per-task success, mean +- std over seeds, the exact command lines),
``report.json`` and ``success.png``.

Profiles: ``quick`` fits in under an hour on a 2-core CPU (1 seed, 25 chains, 2.5 minutes of
training per agent, the world model trained for 15 minutes unless one is given);
``full`` is the protocol for bigger machines (3 seeds, 1000 chains, longer training).
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass, replace
from pathlib import Path

from lumos_core.config import CollectConfig, LumosConfig, SimConfig, load_config

VARIANTS = {
    "LUMOS": [],
    "no DITTO (BC)": ["agent.use_ditto=false"],
    "no latent plan": ["agent.use_plan=false"],
    "no alignment": ["agent.use_alignment=false"],
    "MCIL": ["agent.method=mcil"],
    "GCBC": ["agent.method=gcbc"],
}


@dataclass(frozen=True)
class Profile:
    """Sizes of one benchmark profile."""

    frames: int
    lang_density: float
    wm_minutes: float
    agent_minutes: float
    seeds: tuple[int, ...]
    chains: int
    workers: int


PROFILES = {
    "quick": Profile(frames=100_000, lang_density=0.01, wm_minutes=15, agent_minutes=2.5,
                     seeds=(0,), chains=25, workers=2),
    "full": Profile(frames=300_000, lang_density=0.01, wm_minutes=120, agent_minutes=60,
                    seeds=(0, 1, 2), chains=1000, workers=8),
    # seconds, for the test suite: exercises every stage, measures nothing
    "smoke": Profile(frames=240, lang_density=0.1, wm_minutes=0.02, agent_minutes=0.02,
                     seeds=(0,), chains=1, workers=1),
}


def _features_match(feats: Path, world_model: str | Path) -> bool:
    """Features already computed with exactly these world-model weights."""
    from lumos_core.checkpoint import WEIGHTS, read_meta

    meta = feats / "meta.json"
    if not meta.exists():
        return False
    sha = read_meta(world_model)["files"][WEIGHTS]["sha256"]
    return json.loads(meta.read_text()).get("weights_sha256") == sha


def _cmd(*parts) -> str:
    return " ".join(shlex.quote(str(p)) for p in parts)


def run(profile_name: str, out: str | Path, dataset: str | Path = "data/sim_play",
        world_model: str | Path | None = None, preset: str = "state",
        progress: bool = True) -> dict:
    """Run the whole comparison; returns the report dict."""
    from lumos_core.evaluation import evaluate, plot_reports
    from lumos_core.featurize import featurize
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.chains import load_chains
    from lumos_core.sim.collect import collect, recorded_settings
    from lumos_core.train_agent import AgentTrainer
    from lumos_core.train_wm import WorldModelTrainer

    import torch

    torch.set_num_threads(1)   # parallelism comes from the evaluation workers
    prof = PROFILES[profile_name]
    out, dataset = Path(out), Path(dataset)
    out.mkdir(parents=True, exist_ok=True)
    commands, timings = [], {}
    started = time.monotonic()

    if (dataset / "collect.json").exists():   # reuse the recording; annotate as the profile says
        sim_cfg, collect_cfg = recorded_settings(dataset)
        collect_cfg = replace(collect_cfg, lang_density=prof.lang_density)
    else:
        sim_cfg, collect_cfg = SimConfig(), CollectConfig(frames=prof.frames,
                                                          lang_density=prof.lang_density)
    commands.append(_cmd("lumos", "collect", "--set", f"collect.frames={collect_cfg.frames}",
                         "--set", f"collect.episode_length={collect_cfg.episode_length}",
                         "--set", f"collect.lang_density={prof.lang_density}", "--out",
                         dataset))
    collect(dataset, sim_cfg, collect_cfg,
            load_instruction_file(config_file("sim_instructions_train.yaml")), progress=progress)
    timings["collect_min"] = (time.monotonic() - started) / 60

    if world_model is None:
        t0 = time.monotonic()
        run_dir = out / "world_model"
        cfg = load_config(preset, [f"data.dataset={dataset}"])
        commands.append(_cmd("lumos", "train-wm", "--preset", preset, "--set",
                             f"data.dataset={dataset}", "--max-minutes", prof.wm_minutes,
                             "--out", run_dir))
        trainer = WorldModelTrainer(cfg, run_dir, progress=progress)
        world_model = trainer.fit(max_minutes=prof.wm_minutes)
        timings["world_model_min"] = (time.monotonic() - t0) / 60
    else:
        commands.append(f"# world model reused: {world_model}")

    t0 = time.monotonic()
    feats = out / "features"
    commands.append(_cmd("lumos", "featurize", world_model, "--dataset", dataset, "--out",
                         feats))
    if not _features_match(feats, world_model):
        featurize(world_model, dataset, feats, progress=progress)
    timings["featurize_min"] = (time.monotonic() - t0) / 60

    chains = load_chains()[: prof.chains]
    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    reports = {}
    for name, overrides in VARIANTS.items():
        slug = name.lower().replace(" ", "_").replace("(", "").replace(")", "")
        t0 = time.monotonic()
        cfg: LumosConfig = load_config(preset, overrides)
        sets = [a for o in overrides for a in ("--set", o)]
        commands.append(_cmd("lumos", "train-agent", "--preset", preset, *sets, "--features",
                             feats, "--max-minutes", prof.agent_minutes, "--out",
                             out / "agents" / slug))
        trainer = AgentTrainer(cfg, feats, out / "agents" / slug, progress=progress)
        policy = trainer.fit(max_minutes=prof.agent_minutes)
        commands.append(_cmd("lumos", "evaluate", "--policy", policy, "--chains", prof.chains,
                             "--seeds", *prof.seeds, "--workers", prof.workers, "--out",
                             out / "eval" / slug))
        reports[name] = evaluate(str(policy), chains, instructions, list(prof.seeds),
                                 out / "eval" / slug, prof.workers, progress=progress)
        reports[name]["train_steps"] = trainer.step
        reports[name]["windows_per_s"] = trainer.windows_per_s
        timings[f"{slug}_min"] = (time.monotonic() - t0) / 60
    timings["total_min"] = (time.monotonic() - started) / 60
    plot_reports(reports, out / "success.png")
    summary = dataset / "summary.json"
    data_info = json.loads(summary.read_text()) if summary.exists() else {}
    write_report(out, profile_name, prof, reports, commands, timings, data_info,
                 reused_world_model=None if "world_model_min" in timings else str(world_model))
    return {"reports": reports, "timings": timings, "commands": commands}


def write_report(out: Path, name: str, prof: Profile, reports: dict, commands: list[str],
                 timings: dict, data_info: dict, reused_world_model: str | None = None) -> None:
    """report.md and report.json."""
    from lumos_core.evaluation import markdown_table, per_task_table

    wm = (f"world model reused ({reused_world_model})" if reused_world_model
          else f"world model trained {prof.wm_minutes} min")
    lines = [f"# Agent benchmark, profile `{name}`", "",
             f"State mode on the simulated play table; {prof.chains} chains x "
             f"{len(prof.seeds)} seed(s) {list(prof.seeds)}; {wm}; each agent "
             f"{prof.agent_minutes} min of training on this machine.", "",
             "Dataset: " + ", ".join(f"{split} {info['frames']} frames, {info['annotations']} "
                                     "language-annotated windows"
                                     for split, info in data_info.items()
                                     if isinstance(info, dict)) + ".", "",
             markdown_table(reports),
             "| variant | training batches | windows/s |", "|---|---|---|"]
    for variant, report in reports.items():
        lines.append(f"| {variant} | {report['train_steps']} | {report['windows_per_s']:.0f} |")
    lines += ["", "## Per task", "", per_task_table(reports), "## Timings (minutes)", "",
              "\n".join(f"- {k}: {v:.1f}" for k, v in timings.items()), "",
              "## Commands", "", "```", *commands, "```", ""]
    (out / "report.md").write_text("\n".join(lines))
    (out / "report.json").write_text(json.dumps({"profile": name, "timings": timings,
                                                 "commands": commands,
                                                 "reports": reports}, indent=1))
