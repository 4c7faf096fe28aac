"""`lumos benchmark agents`: the paper's Table I analogue in state mode on the simulator.

One command: collect (or reuse) play data, train the state world model (or reuse one),
featurize, train LUMOS, each ablation and each baseline for the same time budget, and evaluate
all of them on the same chains with the same seeds. Writes ``report.md`` (success of 1..5 in a
row, average chain length, per-task success, mean +- std over seeds, the exact command lines),
``report.json`` and ``success.png``.

Profiles: ``quick`` fits in under an hour on a 2-core CPU (1 seed, 25 chains, 2.5 minutes of
training per agent, the world model trained for 15 minutes unless one is given);
``full`` is the protocol for bigger machines (3 seeds, 1000 chains, longer training);
``long`` trains every row with the strongest recipe found here (:data:`LONG_RECIPE`, a fixed
14 232 batches per row).
"""

from __future__ import annotations

import json
import shlex
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lumos_core.config import CollectConfig, SimConfig, load_config

#: what makes LUMOS learn at a CPU budget (docs/agents.md, "the learning ladder"): the DITTO
#: reward on standardised h relative to the window's start, few history-free starts (the filter
#: warm-up makes the first latent after a reset close to the long-history ones), a BC term next
#: to DITTO, the return objective scaled by its running 5-95 % range (DreamerV3) so that it
#: does not swamp that term, the actor warm-started by 1200 batches of BC (inside the same time
#: budget), an actor learning rate of 1e-3 (official 2e-4: GCBC on the same features 0.41 ->
#: 0.61 in 10 minutes). The actor stays on h: reading the latent through the state decoder
#: (agent.actor_latent=decoded) lifts language-only GCBC 0.90 -> 1.17, but with the image-goal
#: half of Table I's batches it lowered GCBC 0.67 -> 0.40 and MCIL 0.60 -> 0.15 (Table I 8,
#: docs/agents.md). Once DITTO takes over, the actor's rate drops to 3e-5 (ditto_lr): at 1e-3
#: the first 25 DITTO updates lowered the objective they follow (0.72 -> 0.62) and threw the
#: actor off its warm start; at 3e-5 it rose monotonically (session 10, `lumos ladder
#: ditto-progress`). Applied to every variant so that each ablation removes exactly its
#: component (the rate applies to every agent.method=lumos variant, no DITTO included).
#: The contrastive loss leaves same-task pairs out of its negatives (align_mask_same_task;
#: session 16): with 27 tasks, ~17 pairs of the ~24 language windows in a batch share a task,
#: and the official loss cost LUMOS 0.15 against no alignment (session 15); masked, +0.22 +-
#: 0.10 over the official loss (two training seeds, 200 grounded chains each; docs/agents.md).
CPU_RECIPE = ["agent.reward_norm=start", "agent.history_free_prob=0.1",
              "agent.ditto_bc_scale=1.0", "agent.actor_latent=h", "agent.bc_warmup=1200",
              "agent.return_norm=percentile", "agent_train.actor_lr=0.001",
              "agent_train.ditto_lr=0.00003", "agent.align_mask_same_task=true"]

#: the strongest recipe found here (sessions 22-24, docs/agents.md; profile ``long``): every
#: row trains 14 232 batches, 13 232 at 1e-3 and 1 000 at 3e-5 (for LUMOS those are DITTO
#: batches, with the BC term x100); the actor reads the latent through the state decoder
#: with the block geometry (session 23: GCBC +0.33 +- 0.12 over three seeds), language
#: windows only; DITTO in its exact form (the expert's actions imagined as the reward target,
#: common imagination noise, the mean action, no bootstrap, horizon 8; session 22).
LONG_WARMUP = 13232
LONG_BATCHES = LONG_WARMUP + 1000
LONG_RECIPE = ["agent.image_goals=false", "agent.history_free_prob=0.1",
               "agent.actor_latent=decoded", "agent.relative_inputs=true",
               "agent.align_mask_same_task=true", "agent.reward_norm=start",
               "agent.ditto_bc_scale=100", "agent.return_norm=percentile",
               "agent.reward_target=imagined", "agent.imagine_noise=common",
               "agent.imagine_action=mean", "agent.bootstrap=none", "agent.horizon=8",
               f"agent.bc_warmup={LONG_WARMUP}", "agent_train.actor_lr=0.001",
               "agent_train.ditto_lr=0.00003", f"agent_train.anneal_at={LONG_WARMUP}",
               "agent_train.anneal_lr=0.00003"]

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
    #: more chains for these variants (the paper's headline rows)
    main_chains: int = 0
    main_variants: tuple[str, ...] = ("LUMOS", "GCBC")
    #: agent trainings run at once (one process and one thread each)
    parallel: int = 1
    recipe: tuple[str, ...] = ()
    #: every variant trains exactly this many batches (0: ``agent_minutes`` of training);
    #: ``--batches`` overrides it per variant
    batches: int = 0

    def chains_for(self, variant: str) -> int:
        """Evaluation chains of ``variant``."""
        return max(self.chains, self.main_chains) if variant in self.main_variants \
            else self.chains


PROFILES = {
    "quick": Profile(frames=100_000, lang_density=0.01, wm_minutes=15, agent_minutes=2.5,
                     seeds=(0,), chains=25, workers=2),
    # the issue's CPU budget on 2 cores: 6 agents x 10 min, two at a time; 1000 chains for
    # LUMOS and GCBC, 200 for the others
    "cpu": Profile(frames=300_000, lang_density=0.01, wm_minutes=25, agent_minutes=10,
                   seeds=(0,), chains=200, workers=2, main_chains=1000, parallel=2,
                   recipe=tuple(CPU_RECIPE)),
    "full": Profile(frames=300_000, lang_density=0.01, wm_minutes=120, agent_minutes=60,
                    seeds=(0, 1, 2), chains=1000, workers=8, parallel=4,
                    recipe=tuple(CPU_RECIPE)),
    # the strongest recipe (LONG_RECIPE), a fixed number of batches per row: by session 25's
    # per-row times (docs/agents.md) ~50 min of training and ~25 min of evaluation on 2 cores
    "long": Profile(frames=300_000, lang_density=0.01, wm_minutes=25, agent_minutes=0,
                    seeds=(0,), chains=200, workers=2, main_chains=1000, parallel=2,
                    recipe=tuple(LONG_RECIPE), batches=LONG_BATCHES),
    # one device run (issue 17, scripts/gpu_vision_run.sh): the vision `cpu` preset on one GPU
    # and its host's 16 cores in < 10 min; LUMOS and GCBC trained side by side on the GPU
    "gpu": Profile(frames=100_000, lang_density=0.01, wm_minutes=4.0, agent_minutes=1.5,
                   seeds=(0,), chains=100, workers=14, parallel=2, recipe=tuple(CPU_RECIPE)),
    # seconds, for the test suite: exercises every stage, measures nothing
    "smoke": Profile(frames=240, lang_density=0.1, wm_minutes=0.02, agent_minutes=0.02,
                     seeds=(0,), chains=1, workers=1, main_chains=2, parallel=2,
                     recipe=tuple(CPU_RECIPE)),
}


def chains_text(prof: Profile) -> str:
    """How many chains each variant is evaluated on."""
    if prof.main_chains > prof.chains:
        return (f"{prof.main_chains} chains for {' and '.join(prof.main_variants)}, "
                f"{prof.chains} for the others")
    return f"{prof.chains} chains"


def _slug(variant: str) -> str:
    """Directory name of a variant: 'no DITTO (BC)' -> 'no_ditto_bc'."""
    return variant.lower().replace(" ", "_").replace("(", "").replace(")", "")


def _cmd(*parts) -> str:
    return " ".join(shlex.quote(str(p)) for p in parts)


def checked_variants(variants) -> tuple[str, ...]:
    """``variants`` as a tuple, each a row of :data:`VARIANTS`; unknown names (or none at all)
    are refused with the known ones listed."""
    variants = tuple(variants)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ValueError(f"unknown or no variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    return variants


def checked_batches(batches: dict[str, int] | None, variants: tuple[str, ...]
                    ) -> dict[str, int]:
    """``{variant: N}`` of fixed batch budgets, checked: every variant among those run, every
    N an integer >= 1 (else a ValueError naming them)."""
    batches = dict(batches or {})
    unknown = sorted(set(batches) - set(variants))
    if unknown:
        raise ValueError(f"batches given for {', '.join(map(repr, unknown))}, which are not "
                         f"among the variants run ({', '.join(variants)})")
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in batches.values()):
        raise ValueError(f"batches must be positive integers, got {batches}")
    return batches


def budget_args(variant: str, batches: dict[str, int], minutes: float) -> list[str]:
    """A training's budget on the ``train-agent`` command line: exactly ``batches[variant]``
    batches (independent of the machine's speed and of what else runs on it) or else
    ``minutes`` of training."""
    if variant in batches:
        return ["--set", f"agent_train.steps={batches[variant]}"]
    return ["--max-minutes", str(minutes), "--set", "agent_train.steps=10000000"]


def batch_item(text: str) -> tuple[str, int]:
    """argparse type of one ``--batches`` item: ``VARIANT=N`` -> (variant, N), the variant as
    ``--variants`` takes it, N an integer >= 1 (a bad item: a usage error naming the option)."""
    import argparse

    from lumos_core.cli.common import POSITIVE

    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"takes VARIANT=N, got {text!r}")
    if name not in VARIANTS:
        raise argparse.ArgumentTypeError(f"unknown variant {name!r} (one of "
                                         f"{', '.join(sorted(VARIANTS))})")
    return name, POSITIVE(value)


def checked_train_seeds(seeds, recipe: tuple[str, ...]) -> tuple[int, ...]:
    """``--train-seeds`` as a tuple of distinct integers; refused (a ValueError naming them)
    when repeated, not integers, or when the recipe already sets ``agent_train.seed`` (two
    sources for one setting)."""
    seeds = tuple(seeds or ())
    if any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise ValueError(f"training seeds must be integers, got {list(seeds)}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"training seeds repeat: {list(seeds)}")
    if seeds and any(o.startswith("agent_train.seed=") for o in recipe):
        raise ValueError("both the training seeds (--train-seeds) and an override "
                         "agent_train.seed=... (--agent-set) set the training seed: give one")
    return seeds


def effective_settings(recipe: tuple[str, ...]) -> list[str]:
    """The ``KEY=VALUE`` overrides a training applies, each key once with the value it ends
    with (a later ``--agent-set`` replaces the profile's value in place): what the report
    lists, where the raw recipe would show both values of an overridden key."""
    final = {}
    for item in recipe:
        key, _, _ = item.partition("=")
        final[key] = item
    return list(final.values())


def training_seed_text(recipe: tuple[str, ...], train_seeds: tuple[int, ...],
                       preset: str) -> str:
    """The report's sentence on the agents' training seed(s)."""
    if train_seeds:
        return (f"training seeds {list(train_seeds)}: every variant trained and evaluated "
                "once per seed")
    sets = [o for o in recipe if o.startswith("agent_train.seed=")]
    if sets:
        return f"training seed {sets[-1].split('=', 1)[1]} (set by the recipe)"
    return (f"training seed {load_config(preset).agent_train.seed} (the configuration's; "
            "`--train-seeds` trains several)")


def over_seeds(reports: dict[str, dict], variant_of: dict[str, str], seed_of: dict[str, int],
               loaded: dict[str, dict]) -> list[dict]:
    """Each variant over its training seeds: per seed the average length and the paired
    difference to the first variant's row of the same seed (on the chains both were
    evaluated on; ``loaded``: the rows' evaluation reports as :func:`load_report` reads them,
    rows without one get no difference); the mean over seeds, and the mean difference with
    its 95 % interval as for a mean of independent estimates (sqrt of the summed squared
    half-widths / k)."""
    from lumos_core.evaluation import paired_comparison

    variants = list(dict.fromkeys(variant_of.values()))
    rows_of = {v: {seed_of[n]: n for n in reports if variant_of[n] == v} for v in variants}
    reference = variants[0]
    summary = []
    for variant in variants:
        per_seed = {}
        for seed, name in sorted(rows_of[variant].items()):
            ref_name = rows_of[reference].get(seed)
            entry = {"avg_len": reports[name]["summary"]["avg_len_mean"], "diff": None,
                     "diff_ci95": None}
            if variant != reference and name in loaded and ref_name in loaded:
                comparison = paired_comparison({ref_name: loaded[ref_name],
                                                name: loaded[name]})
                row = comparison["rows"][1]
                entry.update(diff=row["diff"], diff_ci95=row["diff_ci95"])
            per_seed[seed] = entry
        diffs = [e for e in per_seed.values() if e["diff"] is not None]
        summary.append({
            "variant": variant, "per_seed": per_seed,
            "mean_avg_len": float(np.mean([e["avg_len"] for e in per_seed.values()])),
            "mean_diff": float(np.mean([e["diff"] for e in diffs])) if diffs else None,
            "mean_diff_ci95": (float(np.sqrt(sum(e["diff_ci95"] ** 2 for e in diffs))
                                     / len(diffs)) if diffs else None)})
    return summary


def over_seeds_table(summary: list[dict]) -> str:
    """Markdown table of :func:`over_seeds`."""
    seeds = sorted({s for row in summary for s in row["per_seed"]})
    reference = summary[0]["variant"]
    lines = ["| variant | " + " | ".join(f"seed {s}: avg. len. (to {reference})" for s in seeds)
             + f" | mean avg. len. | mean difference to {reference} (95 %) |",
             "|---|" + "---|" * (len(seeds) + 2)]
    for row in summary:
        cells = []
        for s in seeds:
            e = row["per_seed"].get(s)
            if e is None:
                cells.append("–")
            else:
                diff = f" ({e['diff']:+.2f} ± {e['diff_ci95']:.2f})" if e["diff"] is not None \
                    else ""
                cells.append(f"{e['avg_len']:.2f}{diff}")
        mean = ("–" if row["mean_diff"] is None
                else f"**{row['mean_diff']:+.2f} ± {row['mean_diff_ci95']:.2f}**")
        lines.append(f"| {row['variant']} | " + " | ".join(cells)
                     + f" | {row['mean_avg_len']:.2f} | {mean} |")
    return "\n".join(lines) + "\n"


#: shares of a ``--minutes`` budget: world-model training, agent training (all rounds of
#: ``parallel`` trainings together); the rest is left for start-up, featurizing, the open-loop
#: report and the evaluation, which are not cut short
BUDGET_SHARES = {"world_model": 0.45, "agents": 0.25}


def budgeted(prof: Profile, minutes: float, variants: int) -> Profile:
    """The profile with its training times taken from a total budget of ``minutes``
    (:data:`BUDGET_SHARES`; agents train ``prof.parallel`` at a time)."""
    rounds = -(-variants // max(1, prof.parallel))
    return replace(prof, wm_minutes=round(BUDGET_SHARES["world_model"] * minutes, 3),
                   agent_minutes=round(BUDGET_SHARES["agents"] * minutes / rounds, 3),
                   batches=0)


def run(profile_name: str, out: str | Path, dataset: str | Path = "data/sim_play",
        world_model: str | Path | None = None, preset: str = "state",
        progress: bool = True, chains: int | None = None,
        main_chains: int | None = None, variants: tuple[str, ...] | None = None,
        device: str | None = None, minutes: float | None = None,
        workers: int | None = None, wm_sets: tuple[str, ...] = (),
        evaluate_chains: bool = True, batches: dict[str, int] | None = None,
        agent_sets: tuple[str, ...] = (), train_seeds: tuple[int, ...] = ()) -> dict:
    """Run the whole comparison; returns the report dict. ``chains`` / ``main_chains``
    override the profile's evaluation chains (all variants / LUMOS and GCBC); ``variants``
    picks rows of :data:`VARIANTS` (default: all); ``preset`` sizes the world model and the
    agents (``state``, or a vision preset such as ``cpu``: the chains then render both
    cameras); ``device`` trains and featurizes there (e.g. ``cuda``; evaluation stays on the
    CPU workers); ``minutes`` replaces the profile's training times by shares of one budget
    (:func:`budgeted`); ``wm_sets`` are extra ``--set`` overrides of the world-model run;
    ``evaluate_chains=False`` stops after training (``trained.json`` lists the checkpoints
    and the evaluation commands: for a machine without the simulator); ``batches``
    ``{variant: N}``: those variants train exactly N batches instead of the profile's minutes
    (:func:`budget_args`); ``agent_sets``: overrides of every agent training after the
    profile's recipe; ``train_seeds``: every variant is trained (and evaluated) once per
    training seed, as rows ``VARIANT (seed S)``, and the report adds the mean over the seeds
    with each variant's paired difference to the first (:func:`over_seeds`). Without it every
    variant trains once, at the configuration's seed (``agent_train.seed``, 42 unless
    ``agent_sets`` sets it): the profile's ``seeds`` are the evaluation's seeds."""
    from lumos_core.evaluation import evaluate, plot_reports
    from lumos_core.featurize import featurize, features_match
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.chains import load_chains
    from lumos_core.sim.collect import collect, recorded_settings

    import torch

    torch.set_num_threads(1)   # parallelism comes from the evaluation workers
    prof = PROFILES[profile_name]
    if chains is not None or main_chains is not None:
        prof = replace(prof, chains=chains or prof.chains,
                       main_chains=prof.main_chains if main_chains is None else main_chains)
    if workers is not None:
        prof = replace(prof, workers=workers)
    variants = tuple(VARIANTS) if variants is None else checked_variants(variants)
    if minutes is not None:
        prof = budgeted(prof, minutes, len(variants))
    batches = checked_batches(batches, variants)
    if prof.batches:
        batches = {name: batches.get(name, prof.batches) for name in variants}
    prof = replace(prof, recipe=tuple(prof.recipe) + tuple(agent_sets))
    train_seeds = checked_train_seeds(train_seeds, prof.recipe)
    device_args = ("--device", device) if device else ()
    out, dataset = Path(out), Path(dataset)
    out.mkdir(parents=True, exist_ok=True)
    commands, timings = [], {}
    started = time.monotonic()
    trains_wm = world_model is None

    if not (dataset / "collect.json").exists() and (dataset / "training").is_dir():
        # not recorded here (CALVIN's, or a bundle unpacked by scripts/pack_bundle.py on a
        # machine without the simulator): used as it is, annotations included
        commands.append(f"# dataset used as it is: {dataset}")
    else:
        if (dataset / "collect.json").exists():   # reuse the recording; annotate anew
            sim_cfg, collect_cfg = recorded_settings(dataset)
            collect_cfg = replace(collect_cfg, lang_density=prof.lang_density)
        else:
            sim_cfg, collect_cfg = SimConfig(), CollectConfig(frames=prof.frames,
                                                              lang_density=prof.lang_density)
        commands.append(_cmd("lumos", "collect", "--set",
                             f"collect.frames={collect_cfg.frames}", "--set",
                             f"collect.episode_length={collect_cfg.episode_length}", "--set",
                             f"collect.lang_density={prof.lang_density}", "--out", dataset))
        collect(dataset, sim_cfg, collect_cfg,
                load_instruction_file(config_file("sim_instructions_train.yaml")),
                progress=progress)
    timings["collect_min"] = (time.monotonic() - started) / 60

    reused = []                     # stages an earlier run of the same command finished
    if world_model is None:
        t0 = time.monotonic()
        run_dir = out / "world_model"
        sets = [a for o in (f"data.dataset={dataset}", *wm_sets) for a in ("--set", o)]
        argv = ["train-wm", "--preset", preset, *sets, "--max-minutes", str(prof.wm_minutes),
                *device_args, "--export", "deploy", "--force", "--out", str(run_dir)]
        commands.append(_cmd("lumos", *argv))
        world_model = run_dir / "checkpoints" / "deploy"
        if _finished(run_dir, argv) and world_model.is_dir():
            reused.append("world model")
        else:
            (run_dir / "command.json").unlink(missing_ok=True)
            _run_logged(argv, out / "logs" / "world_model.log", "world-model training")
            (run_dir / "command.json").write_text(json.dumps(argv))
            timings["world_model_min"] = (time.monotonic() - t0) / 60
        t0 = time.monotonic()
        argv = ["wm-report", str(world_model), "--dataset", str(dataset), "--sequences", "4",
                "--horizon", "195",          # wm-report clips it to the longest episode
                "--out", str(run_dir / "report")]
        commands.append(_cmd("lumos", *argv))
        if "world model" not in reused or not (run_dir / "report" / "open_loop.json").is_file():
            _run_logged(argv, out / "logs" / "wm_report.log", "open-loop report")
            timings["wm_report_min"] = (time.monotonic() - t0) / 60
    else:
        commands.append(f"# world model reused: {world_model}")

    t0 = time.monotonic()
    feats = out / "features"
    commands.append(_cmd("lumos", "featurize", world_model, "--dataset", dataset, "--out",
                         feats, *device_args))
    if not features_match(feats, world_model, dataset):
        featurize(world_model, dataset, feats, device=device or "cpu", progress=progress)
    timings["featurize_min"] = (time.monotonic() - t0) / 60

    chains = load_chains()
    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    jobs, rows = [], {}      # row name -> (variant, training seed or None)
    for variant in variants:
        for seed in train_seeds or (None,):
            name, slug, seed_sets = variant, _slug(variant), ()
            if seed is not None:
                name, slug = f"{variant} (seed {seed})", f"{slug}_s{seed}"
                seed_sets = (f"agent_train.seed={seed}",)
            sets = [a for o in (*prof.recipe, *VARIANTS[variant], *seed_sets)
                    for a in ("--set", o)]
            argv = ["train-agent", "--preset", preset, *sets, "--features", str(feats),
                    *budget_args(variant, batches, prof.agent_minutes), "--set",
                    "agent_train.checkpoint_every=10000000", *device_args,
                    "--out", str(out / "agents" / slug)]
            commands.append(_cmd("lumos", *argv))
            jobs.append((name, slug, argv))
            rows[name] = (variant, seed)
    t0 = time.monotonic()
    policies, resumable = train_parallel(jobs, prof.parallel, out / "logs")
    reused += [f"training of {name}" for name, _, _ in jobs if name in resumable]
    timings["agents_min"] = (time.monotonic() - t0) / 60

    def evaluate_command(name: str, slug: str, here: bool = True) -> str:
        """The evaluation's command line (``here``: with this profile's workers; else for
        another machine, whose own default applies)."""
        workers = ("--workers", prof.workers) if here else ()
        return _cmd("lumos", "evaluate", "--policy", policies[name][0], "--chains",
                    prof.chains_for(rows[name][0]), "--seeds", *prof.seeds, *workers,
                    "--out", out / "eval" / slug)

    if not evaluate_chains:   # e.g. a GPU machine without the simulator: evaluate elsewhere
        trained = {name: {"policy": policies[name][0], "train_steps": policies[name][1],
                          "windows_per_s": policies[name][2]} for name, _, _ in jobs}
        commands += [evaluate_command(name, slug, here=False) for name, slug, _ in jobs]
        timings["total_min"] = (time.monotonic() - started) / 60
        (out / "trained.json").write_text(json.dumps({
            "profile": profile_name, "preset": preset, "device": device or "cpu",
            "trained": trained, "timings": timings, "commands": commands,
            "note": "not evaluated here (--no-eval): run the lumos evaluate commands"},
            indent=1))
        return {"trained": trained, "timings": timings, "commands": commands}
    reports = {}
    for name, slug, _ in jobs:
        t0 = time.monotonic()
        policy, steps, windows_per_s = policies[name]
        n = prof.chains_for(rows[name][0])
        commands.append(evaluate_command(name, slug))
        # the chains an interrupted run of the same command evaluated with the same policy
        # are kept (only where that policy was not trained anew: it is the same checkpoint)
        reports[name] = evaluate(str(policy), chains[:n], instructions, list(prof.seeds),
                                 out / "eval" / slug, prof.workers, progress=progress,
                                 resume=name in resumable)
        reports[name]["train_steps"] = steps
        reports[name]["windows_per_s"] = windows_per_s
        timings[f"eval_{slug}_min"] = (time.monotonic() - t0) / 60
    timings["total_min"] = (time.monotonic() - started) / 60
    plot_reports(reports, out / "success.png")
    summary = dataset / "summary.json"
    data_info = json.loads(summary.read_text()) if summary.exists() else {}
    write_report(out, profile_name, prof, reports, commands, timings, data_info,
                 reused_world_model=None if trains_wm else str(world_model),
                 preset=preset, device=device, reused=reused, batches=batches,
                 train_seeds=train_seeds, rows=rows)
    return {"reports": reports, "timings": timings, "commands": commands}


def _run_logged(argv: list[str], log: Path, what: str) -> None:
    """Run ``lumos ARGV`` to completion with its output in ``log``; a failure stops the
    benchmark with the log's tail."""
    import subprocess
    import sys

    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as stream:
        code = subprocess.call([sys.executable, "-m", "lumos_core.cli", *argv], stdout=stream,
                               stderr=subprocess.STDOUT)
    if code != 0:
        raise RuntimeError(f"{what} failed (exit {code}); log {log}:\n"
                           f"{log.read_text()[-2000:]}")


def train_parallel(jobs: list[tuple[str, str, list[str]]], parallel: int, log_dir: Path
                   ) -> tuple[dict[str, tuple[str, int, float]], set[str]]:
    """Run ``lumos train-agent`` for every job, ``parallel`` processes at a time (one thread
    each); returns ``{name: (final checkpoint, batches, windows/s)}`` and the names of the
    jobs an earlier run of the same command had finished (reused, not trained again: their
    evaluations may resume). A failed training stops the benchmark with its log's tail."""
    import subprocess
    import sys

    log_dir.mkdir(parents=True, exist_ok=True)
    pending, running, done = [], [], {}
    for name, slug, argv in jobs:
        found = _trained(argv)
        if found is None:
            pending.append((name, slug, argv))
        else:   # an interrupted benchmark: the same training already finished
            done[name] = found
    reused = set(done)

    while pending or running:
        while pending and len(running) < max(1, parallel):
            name, slug, argv = pending.pop(0)
            run_dir = Path(argv[argv.index("--out") + 1])
            shutil.rmtree(run_dir, ignore_errors=True)      # a partial run of another command
            log = open(log_dir / f"{slug}.log", "w")
            proc = subprocess.Popen([sys.executable, "-m", "lumos_core.cli", *argv],
                                    stdout=log, stderr=subprocess.STDOUT)
            running.append((name, slug, argv, proc, log))
        time.sleep(0.5)
        for item in list(running):
            name, slug, argv, proc, log = item
            if proc.poll() is None:
                continue
            log.close()
            running.remove(item)
            text = (log_dir / f"{slug}.log").read_text()
            if proc.returncode != 0:
                for other in running:
                    other[3].terminate()
                raise RuntimeError(f"training {name!r} failed (exit {proc.returncode}); "
                                   f"log {log_dir / f'{slug}.log'}:\n{text[-2000:]}")
            run_dir = Path(argv[argv.index("--out") + 1])
            (run_dir / "command.json").write_text(json.dumps(argv))
            done[name] = _trained(argv)
    return done, reused


def _finished(run_dir: Path, argv: list[str]) -> bool:
    """Whether ``run_dir`` holds a run of exactly ``argv`` that finished (its
    ``command.json`` is written when it does)."""
    command = run_dir / "command.json"
    try:
        return json.loads(command.read_text()) == argv
    except (OSError, ValueError):
        return False


def _trained(argv: list[str]) -> tuple[str, int, float] | None:
    """(final checkpoint, batches, windows/s) of a finished ``train-agent`` run of exactly
    ``argv`` (its ``command.json``, written when it finished), else None."""
    run_dir = Path(argv[argv.index("--out") + 1])
    found = sorted((run_dir / "checkpoints").glob("step_*"))
    if not _finished(run_dir, argv) or not found:
        return None
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text()
            .splitlines()] if (run_dir / "metrics.jsonl").exists() else []
    speed = rows[-1].get("windows_per_s", 0.0) if rows else 0.0
    return str(found[-1]), int(found[-1].name.split("_")[-1]), float(speed)


def write_report(out: Path, name: str, prof: Profile, reports: dict, commands: list[str],
                 timings: dict, data_info: dict, reused_world_model: str | None = None,
                 preset: str = "state", device: str | None = None,
                 reused: list[str] | None = None, batches: dict[str, int] | None = None,
                 train_seeds: tuple[int, ...] = (),
                 rows: dict[str, tuple[str, int | None]] | None = None) -> None:
    """report.md and report.json; ``reused``: the stages an earlier run of the same command
    had finished (that run's timings are kept next to this one's); ``batches``: the variants
    trained a fixed number of batches; ``train_seeds``: the training seeds, one row per
    variant and seed; ``rows``: each row's (variant, training seed or None) (default: each
    row a variant of its own name)."""
    from lumos_core.evaluation import (load_report, markdown_table, paired_comparison,
                                       paired_table, per_task_table)

    wm = (f"world model reused ({reused_world_model})" if reused_world_model
          else f"world model trained {prof.wm_minutes} min")
    batches = batches or {}
    rows = rows or {row: (row, None) for row in reports}
    variant_of = {row: variant for row, (variant, _) in rows.items()}
    seed_of = {row: seed for row, (_, seed) in rows.items()}
    timed = [v for v in dict.fromkeys(variant_of.values()) if v not in batches]
    budget = "; ".join(([f"{', '.join(timed)}: {prof.agent_minutes} min of training each on "
                         f"this machine"] if timed else [])
                       + [f"{v}: {n} batches" for v, n in batches.items()])
    mode = ("State mode" if load_config(preset).world_model.obs_mode == "state"
            else "Vision (static + gripper cameras)")
    lines = [f"# Agent benchmark, profile `{name}`, preset `{preset}`", "",
             f"{mode} on the simulated play table; trained on {device or 'cpu'}; "
             f"{chains_text(prof)} x "
             f"{len(prof.seeds)} evaluation seed(s) {list(prof.seeds)}; "
             f"{training_seed_text(prof.recipe, train_seeds, preset)}; {wm}; {budget} "
             f"({prof.parallel} trainings at a time, one thread each); evaluation "
             "paraphrases never seen in training, each grounded on its task's nearest "
             "training paraphrase (`lumos evaluate --grounding task`, docs/agents.md "
             "session 14).", "",
             "Settings common to every variant: "
             + (", ".join(f"`{r}`" for r in effective_settings(prof.recipe))
                or "the preset's") + ".", "",
             "Dataset: " + ", ".join(f"{split} {info['frames']} frames, {info['annotations']} "
                                     "language-annotated windows"
                                     for split, info in data_info.items()
                                     if isinstance(info, dict)) + ".", "",
             markdown_table(reports),
             "| variant | training batches | windows/s |", "|---|---|---|"]
    for variant, report in reports.items():
        lines.append(f"| {variant} | {report['train_steps']} | {report['windows_per_s']:.0f} |")
    lines += ["", "± is a 95 % confidence interval over chains (normal approximation; "
              "binomial for the rates).", ""]
    loaded = {v: load_report(r["written_to"]) for v, r in reports.items()
              if r.get("written_to")}
    if len(loaded) >= 2:
        # rows with more chains than others are not comparable as they stand: the chains
        # differ in difficulty; the paired view compares every variant on the same chains
        lines += ["## Paired on the common chains", "",
                  paired_table(paired_comparison(loaded)), ""]
    summary = []
    if len(train_seeds) >= 2:
        summary = over_seeds(reports, variant_of, seed_of, loaded)
        lines += ["## Over the training seeds", "",
                  f"Per training seed: the average length, in brackets the difference to "
                  f"{summary[0]['variant']} of the same seed, paired on the chains both were "
                  "evaluated on; the mean difference's interval is that of a mean of "
                  "independent estimates (sqrt of the summed squared half-widths / number of "
                  "seeds).", "", over_seeds_table(summary)]
    earlier = {}
    if reused:
        try:        # an unreadable earlier report only loses its timings, not this report
            previous = json.loads((out / "report.json").read_text())
            earlier = previous.get("earlier_timings") or previous.get("timings", {})
        except (OSError, ValueError, AttributeError):
            earlier = {}
    lines += ["## Per task", "", per_task_table(reports),
              "## Timings (minutes)", "",
              "\n".join(f"- {k}: {v:.1f}" for k, v in timings.items()), ""]
    if reused:
        lines += ["Reused from an earlier run of the same command (evaluations resumed: "
                  "their finished chains kept, the others run): " + ", ".join(reused) + "."]
        if earlier:
            lines += ["", "The earlier run's timings: "
                      + ", ".join(f"{k} {v:.1f}" for k, v in earlier.items()) + "."]
        lines.append("")
    lines += ["## Commands", "", "```", *commands, "```", ""]
    (out / "report.md").write_text("\n".join(lines))
    (out / "report.json").write_text(json.dumps({"profile": name, "preset": preset,
                                                 "device": device or "cpu",
                                                 "timings": timings,
                                                 "reused": reused or [],
                                                 "earlier_timings": earlier,
                                                 "commands": commands,
                                                 "train_seeds": list(train_seeds),
                                                 "over_seeds": summary,
                                                 "reports": reports}, indent=1))


def register(sub) -> None:
    """`lumos benchmark agents`."""
    from lumos_core.cli.common import MINUTES, POSITIVE

    parser = sub.add_parser("agents", help="the Table I analogue: LUMOS, its ablations, GCBC "
                            "and MCIL on the same chains (state mode)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                        help="quick (~1 h on 2 cores), cpu (10 min per agent, 1000 chains "
                             "for LUMOS/GCBC), long (the strongest recipe: 14232 batches "
                             "per agent, ~1.5 h on 2 cores), full (3 evaluation seeds, 1000 "
                             "chains), "
                             "smoke (tests)")
    parser.add_argument("--out", default=None, help="report directory "
                        "(default: runs/benchmark_agents_<profile>)")
    parser.add_argument("--dataset-root", default="data/sim_play",
                        help="CALVIN-format dataset (collected when missing)")
    parser.add_argument("--world-model", default=None,
                        help="reuse this world-model checkpoint instead of training one")
    parser.add_argument("--chains", type=POSITIVE, default=None,
                        help="evaluation chains per variant (default: the profile's)")
    parser.add_argument("--main-chains", type=POSITIVE, default=None,
                        help="evaluation chains for LUMOS and GCBC (default: the profile's)")
    parser.add_argument("--preset", default="state",
                        help="world-model and agent sizes: state, or a vision preset (cpu, "
                             "paper, debug): the chains then render both cameras")
    parser.add_argument("--variants", nargs="+", default=None, metavar="VARIANT",
                        help="rows to run (default: all): " + ", ".join(map(repr, VARIANTS)))
    parser.add_argument("--device", default=None,
                        help="train and featurize here (e.g. cuda); evaluation runs on CPU "
                             "workers")
    parser.add_argument("--minutes", type=MINUTES, default=None,
                        help="one budget instead of the profile's training times: "
                             + ", ".join(f"{100 * v:.0f} %% {k.replace('_', ' ')}"
                                         for k, v in BUDGET_SHARES.items())
                             + "; the rest for featurizing, the report and the evaluation")
    parser.add_argument("--workers", type=POSITIVE, default=None,
                        help="evaluation processes (default: the profile's)")
    parser.add_argument("--wm-set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="extra --set of the world-model training (repeatable)")
    parser.add_argument("--batches", nargs="+", default=[], metavar="VARIANT=N",
                        type=batch_item,
                        help="train these variants exactly N batches instead of the profile's "
                             "(or --minutes') time: independent of the machine's speed and of "
                             "what else runs on it")
    parser.add_argument("--agent-set", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override of every agent training after the profile's recipe "
                             "(repeatable), e.g. agent_train.seed=1 for another training seed")
    parser.add_argument("--train-seeds", nargs="+", type=int, default=[], metavar="SEED",
                        help="train and evaluate every variant once per training seed (rows "
                             "'VARIANT (seed S)'; the report adds the mean over seeds and the "
                             "paired differences to the first variant); default: one training "
                             "at the configuration's seed (42). The profile's seeds are the "
                             "evaluation's")
    parser.add_argument("--no-eval", action="store_true",
                        help="stop after training (trained.json lists the checkpoints and the "
                             "lumos evaluate commands), e.g. on a machine without pybullet")
    parser.set_defaults(handler=main)


def main(args) -> int:
    from lumos_core.runs import writable_dir

    out = args.out or f"runs/benchmark_agents_{args.profile}"
    writable_dir(out)
    load_config(args.preset)   # an unknown preset: a clear error before any work
    result = run(args.profile, out, args.dataset_root, args.world_model, preset=args.preset,
                 chains=args.chains, main_chains=args.main_chains, variants=args.variants,
                 device=args.device, minutes=args.minutes, workers=args.workers,
                 wm_sets=tuple(args.wm_set), evaluate_chains=not args.no_eval,
                 batches=dict(args.batches), agent_sets=tuple(args.agent_set),
                 train_seeds=tuple(args.train_seeds))
    if args.no_eval:
        print(f"trained (not evaluated): {out}/trained.json "
              f"({result['timings']['total_min']:.1f} min)")
        return 0
    print(f"report: {out}/report.md ({result['timings']['total_min']:.1f} min)")
    return 0
