"""`lumos collect`: scripted play in the simulator, recorded in the CALVIN format."""

from __future__ import annotations

import argparse

from lumos_core.cli.common import add_config_args, config_from_args


def register(sub) -> None:
    collect = sub.add_parser("collect", help="record scripted play data in the CALVIN format")
    add_config_args(collect)
    collect.add_argument("--out", help="dataset directory (default: data.dataset)")
    collect.add_argument("--instructions", help="YAML task -> training paraphrases")
    collect.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.runs import writable_dir
    from lumos_core.sim.collect import collect, plan_episodes

    cfg = config_from_args(args)
    out = args.out or cfg.data.dataset
    instructions = load_instruction_file(args.instructions or
                                         config_file("sim_instructions_train.yaml"))
    plan_episodes(cfg.collect)              # a plan that cannot be split fails here, not later
    writable_dir(out)
    summary = collect(out, cfg.sim, cfg.collect, instructions)
    for split in ("training", "validation"):
        if split not in summary:
            continue
        s = summary[split]
        print(f"{split}: {s['frames']} frames, {s['episodes']} episodes, "
              f"{sum(s['completed_tasks'].values())} completed tasks, "
              f"{s['annotations']} language annotations")
    print(f"dataset: {out}")
    return 0
