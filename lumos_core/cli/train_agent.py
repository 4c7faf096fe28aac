"""`lumos train-agent`: LUMOS (or an ablation, GCBC, MCIL) on featurized play."""

from __future__ import annotations

import argparse

from lumos_core.cli.common import add_config_args, add_threads, set_threads
from lumos_core.cli.train_wm import (add_run_args, refuse_init_with_resume, run_config,
                                     start_run)


def register(sub) -> None:
    agent = sub.add_parser("train-agent", help="train the LUMOS agent (or an ablation/baseline) "
                                               "on featurized data")
    add_config_args(agent, "state")
    agent.add_argument("--features", required=True, help="output of `lumos featurize`")
    add_run_args(agent)
    agent.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                       help="start a new run from this policy checkpoint's behaviour weights "
                            "(and optimiser moments, if it has them), e.g. to fine-tune an "
                            "exported policy at a lower agent_train.actor_lr; same model "
                            "configuration and world model (the features') required")
    agent.add_argument("--other-world-model", action="store_true",
                       help="with --init-from: the features' world model may differ from the "
                            "policy's (one fine-tuned from it, `lumos train-wm --init-from`); "
                            "the behaviour weights move onto it")
    agent.add_argument("--device", default=None)
    add_threads(agent)
    agent.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.runs import OutputError
    from lumos_core.train_agent import AgentTrainer
    from lumos_core.wm_report import plot_agent_curves

    refuse_init_with_resume(args)
    if args.other_world_model and not args.init_from:
        raise OutputError("--other-world-model goes with --init-from (a policy moved onto "
                          "the features' world model)")
    cfg = run_config(args)
    set_threads(args)
    start_run(args)
    trainer = AgentTrainer(cfg, args.features, args.out, device=args.device or "cpu")
    from lumos_core.precision import describe

    print(f"training on {trainer.device} in {describe(trainer.amp_dtype)} "
          f"(agent_train.precision {trainer.cfg.agent_train.precision})")
    if args.resume:
        trainer.resume()
        print(f"resumed at step {trainer.step}")
    elif args.init_from:
        loaded = trainer.init_from(args.init_from, other_world_model=args.other_world_model)
        print(f"initialised from {args.init_from}: {loaded}")
    final = trainer.fit(max_minutes=args.max_minutes)
    print(f"checkpoint: {final} (step {trainer.step}, {trainer.windows_per_s:.0f} windows/s)")
    metrics = trainer.run_dir / "metrics.jsonl"
    if metrics.exists() and plot_agent_curves(metrics, trainer.run_dir / "curves.png"):
        print(f"curves: {trainer.run_dir / 'curves.png'}")
    return 0
