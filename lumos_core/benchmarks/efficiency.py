"""`lumos benchmark efficiency`: the data-efficiency curve -- success vs the number of
language windows per task, same features and world model (the paper's claim: learning from
few annotations)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lumos_core.benchmarks.agents import (CPU_RECIPE, LONG_BATCHES, LONG_RECIPE, VARIANTS, _cmd,
                                          _slug, batch_item, budget_args, checked_batches,
                                          checked_variants, train_parallel)

#: recipes of ``--profile``: the base settings and the batches every variant trains (0: the
#: ``--minutes`` budget), as in `lumos benchmark agents` (profiles ``cpu`` and ``long``)
RECIPES = {"cpu": (tuple(CPU_RECIPE), 0), "long": (tuple(LONG_RECIPE), LONG_BATCHES)}


def profile_budget(profile: str, variants, batches: dict[str, int]) -> dict[str, int]:
    """The fixed batch budgets of a run of ``profile``: the profile's own for every variant
    (``long``: :data:`LONG_BATCHES`), the ``batches`` given overriding it per variant."""
    if profile not in RECIPES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(RECIPES)}")
    default = RECIPES[profile][1]
    return {**({v: default for v in variants} if default else {}), **batches}


def efficiency(features: str | Path, out: str | Path, levels: tuple[int, ...] = (2, 10, 50, 150),
               variants: tuple[str, ...] = ("LUMOS", "GCBC"), minutes: float = 5.0,
               chains: int = 100, parallel: int = 2, workers: int = 2, preset: str = "state",
               recipe: tuple[str, ...] = tuple(CPU_RECIPE), progress: bool = True,
               batches: dict[str, int] | None = None) -> dict:
    """The data-efficiency curve: each variant trained on at most N language windows per task
    (``agent.lang_per_task``; nested subsets) with the same features and world model, for the
    same budget, evaluated on the same chains. Writes ``efficiency.md``, ``.json`` and ``.png``.

    ``batches`` ``{variant: N}``: those variants train exactly N batches instead of
    ``minutes`` (a budget that does not depend on the machine's speed or on what else runs on
    it; the others keep ``minutes``)."""
    from lumos_core.evaluation import evaluate
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.chains import load_chains

    variants = checked_variants(variants)
    batches = checked_batches(batches, variants)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs, commands = [], []
    for variant in variants:
        for level in levels:
            slug = f"{_slug(variant)}_{level}"
            sets = [a for o in (*recipe, *VARIANTS[variant], f"agent.lang_per_task={level}")
                    for a in ("--set", o)]
            argv = ["train-agent", "--preset", preset, *sets, "--features", str(features),
                    *budget_args(variant, batches, minutes),
                    "--set", "agent_train.checkpoint_every=10000000",
                    "--out", str(out / "agents" / slug)]
            commands.append(_cmd("lumos", *argv))
            jobs.append((slug, slug, argv))
    started = time.monotonic()
    # resumable: trainings an interrupted run of the same command finished
    trained, resumable = train_parallel(jobs, parallel, out / "logs")
    chain_list = load_chains()[:chains]
    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    rows = []
    for variant in variants:
        for level in levels:
            slug = f"{_slug(variant)}_{level}"
            policy, steps, _ = trained[slug]
            commands.append(_cmd("lumos", "evaluate", "--policy", policy, "--chains", chains,
                                 "--workers", workers, "--out", out / "eval" / slug))
            report = evaluate(policy, chain_list, instructions, [0], out / "eval" / slug,
                              workers, progress=progress, resume=slug in resumable)
            s = report["summary"]
            rows.append({"variant": variant, "windows_per_task": level, "steps": steps,
                         "avg_len": s["avg_len_mean"], "ci95": s["avg_len_ci95"],
                         "first": s["success_rate_mean"][0]})
    minutes_total = (time.monotonic() - started) / 60
    _plot_efficiency(rows, out / "efficiency.png")
    lines = ["# Data efficiency: success vs language windows per task", "",
             f"Same features and world model ({features}); each run "
             + "; ".join(f"{v}: {batches[v]} batches" if v in batches else f"{v}: {minutes} min"
                         for v in variants)
             + f" of training ({parallel} at a time); {chains} chains, evaluation paraphrases "
             f"(grounded on their task, `--grounding task`); settings "
             + ", ".join(f"`{r}`" for r in recipe) + ".", "",
             "| variant | windows per task (at most) | training batches | first subtask | "
             "avg. len. (95 % CI) |", "|---|---|---|---|---|"]
    lines += [f"| {r['variant']} | {r['windows_per_task']} | {r['steps']} | "
              f"{100 * r['first']:.1f} % | {r['avg_len']:.2f} ± {r['ci95']:.2f} |" for r in rows]
    lines += ["", f"Total {minutes_total:.1f} min.", "", "![curve](efficiency.png)", "",
              "```", *commands, "```", ""]
    (out / "efficiency.md").write_text("\n".join(lines))
    (out / "efficiency.json").write_text(json.dumps({"rows": rows, "commands": commands,
                                                     "minutes": minutes, "batches": batches},
                                                    indent=1))
    return {"rows": rows, "minutes": minutes_total}


def _plot_efficiency(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        ax.errorbar([r["windows_per_task"] for r in mine], [r["avg_len"] for r in mine],
                    yerr=[r["ci95"] for r in mine], marker="o", capsize=3, label=variant)
    ax.set_xscale("log")
    ax.set_xlabel("language windows per task (at most)")
    ax.set_ylabel("average chain length")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def register(sub) -> None:
    """`lumos benchmark efficiency`."""
    from lumos_core.cli.common import MINUTES, POSITIVE

    parser = sub.add_parser("efficiency", help="success vs language windows per task")
    parser.add_argument("--features", required=True, help="output of `lumos featurize`")
    parser.add_argument("--out", default="runs/efficiency", help="report directory")
    parser.add_argument("--levels", type=POSITIVE, nargs="+", default=[2, 10, 50, 150],
                        help="language windows per task")
    parser.add_argument("--variants", nargs="+", default=["LUMOS", "GCBC"],
                        choices=sorted(VARIANTS), help="variants of `benchmark agents`")
    parser.add_argument("--minutes", type=MINUTES, default=5.0, help="per training")
    parser.add_argument("--batches", nargs="+", default=[], metavar="VARIANT=N",
                        type=batch_item,
                        help="train these variants exactly N batches instead of --minutes "
                             "(e.g. LUMOS=4340 GCBC=8600: independent of the machine's speed "
                             "and of what else runs on it)")
    parser.add_argument("--chains", type=POSITIVE, default=100, help="chains per run")
    parser.add_argument("--parallel", type=POSITIVE, default=2, help="trainings at once")
    parser.add_argument("--workers", type=POSITIVE, default=2, help="evaluation workers")
    parser.add_argument("--profile", choices=sorted(RECIPES), default="cpu",
                        help="the recipe: cpu (benchmark agents' CPU recipe, --minutes or "
                             "--batches of training) or long (the strongest recipe, "
                             f"{LONG_BATCHES} batches per training unless --batches says "
                             "otherwise; ~30 min per LUMOS/GCBC pair on one core each)")
    parser.add_argument("--recipe-set", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override on top of the profile's recipe (repeatable), e.g. "
                             "agent.bc_warmup=500 for shorter trainings or "
                             "agent_train.seed=2 for another training seed")
    parser.set_defaults(handler=main)


def main(args) -> int:
    from lumos_core.runs import writable_dir

    batches = profile_budget(args.profile, args.variants, dict(args.batches))
    writable_dir(args.out)
    efficiency(args.features, args.out, tuple(args.levels), tuple(args.variants),
               args.minutes, args.chains, args.parallel, args.workers,
               recipe=RECIPES[args.profile][0] + tuple(args.recipe_set), batches=batches)
    print(Path(args.out, "efficiency.md").read_text(), end="")
    return 0
