"""`lumos train-wm`: the world model on a CALVIN-format dataset (one run per directory)."""

from __future__ import annotations

import argparse

from lumos_core.cli.common import (MINUTES, NON_NEGATIVE, add_config_args, add_threads,
                                   config_from_args, gave_config, set_threads)


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """--out / --resume / --force of a training run (shared with train-agent)."""
    parser.add_argument("--out", required=True, help="run directory (one run per directory)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its latest checkpoint (with the "
                             "run's configuration unless --preset/--set are given)")
    parser.add_argument("--force", action="store_true",
                        help="--out holds another run: move it aside to <out>.old-<time> and "
                             "start anew")
    parser.add_argument("--max-minutes", type=MINUTES, default=None,
                        help="stop (and checkpoint) after this much wall time")


def refuse_init_with_resume(args: argparse.Namespace) -> None:
    """--init-from (a new run from a checkpoint's weights) and --resume exclude each other."""
    from lumos_core.runs import OutputError

    if args.init_from and args.resume:
        raise OutputError("--init-from starts a new run; --resume continues one: give one")


def run_config(args: argparse.Namespace):
    """The configuration of a training invocation. ``--resume`` without --preset/--set
    continues with the run's own (that of its latest checkpoint): resuming can neither fail
    on, nor silently switch to, the default preset's dataset or sizes."""
    if args.resume and not gave_config(args):
        from pathlib import Path

        from lumos_core.checkpoint import read_meta
        from lumos_core.config import LumosConfig
        from lumos_core.train_wm import latest_checkpoint

        latest = latest_checkpoint(Path(args.out))
        if latest is not None:
            print(f"--resume: continuing with the configuration of {latest}")
            return LumosConfig.from_stored(read_meta(latest)["config"])
    return config_from_args(args)


def register(sub) -> None:
    train = sub.add_parser("train-wm", help="train the world model on a CALVIN-format dataset")
    add_config_args(train, "state")
    add_run_args(train)
    train.add_argument("--device", default=None, help="e.g. cpu, cuda (default: auto)")
    add_threads(train)
    train.add_argument("--export", default=None, metavar="NAME",
                       help="also write checkpoints/NAME without optimiser state")
    train.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                       help="start a new run from the world model of this checkpoint (a "
                            "world model's or a policy's): fine-tuning with another loss or "
                            "on new play; fresh optimiser")
    train.add_argument("--report-horizon", type=NON_NEGATIVE, default=45,
                       help="open-loop report horizon at each evaluation (0: off)")
    train.set_defaults(handler=run)


def start_run(args: argparse.Namespace) -> None:
    """Check the run directory before any data is loaded; say if an old run moved. Under
    torchrun only rank 0 does (the others find the directory prepared)."""
    import os

    from lumos_core.runs import prepare_run

    if int(os.environ.get("RANK", "0")) != 0:
        return
    moved = prepare_run(args.out, args.resume, args.force)
    if moved is not None:
        print(f"moved the previous run in {args.out} to {moved}")


def run(args: argparse.Namespace) -> int:
    from lumos_core.train_wm import WorldModelTrainer
    from lumos_core.wm_report import open_loop, plot_training_curves, write_open_loop

    refuse_init_with_resume(args)
    cfg = run_config(args)
    set_threads(args)
    start_run(args)
    trainer = WorldModelTrainer(cfg, args.out, device=args.device)
    from lumos_core.precision import describe

    graph = ", each step one CUDA graph replay" if trainer.captured is not None else ""
    print(f"training on {trainer.device} in {describe(trainer.amp_dtype)} (wm_train.precision "
          f"{cfg.wm_train.precision}){graph}")
    if args.resume:
        trainer.resume()
        print(f"resumed at step {trainer.step}")
    elif args.init_from:
        print(f"initialised from {args.init_from}: {trainer.init_from(args.init_from)}")

    def report(t) -> None:
        data = t.val or t.train
        summary = write_open_loop(open_loop(t.model, data, horizon=args.report_horizon),
                                  t.run_dir / "open_loop" / f"step_{t.step:08d}")
        key = "mse" if "mse" in summary else "rgb_static"
        curve = summary[key] if key == "mse" else summary[key]["mse"]
        t.log("open_loop", {"mse_first": curve[0], "mse_last": curve[-1],
                            "mse_mean": sum(curve) / len(curve)})

    final = trainer.fit(report=report if args.report_horizon > 0 else None,
                        max_minutes=args.max_minutes)
    if trainer.dist.main and final is not None:
        print(f"checkpoint: {final} (step {trainer.step}, "
              f"{trainer.frames_per_s:.0f} frames/s this run)")
        if args.export:
            print(f"deployable copy: {trainer.save(args.export, resumable=False)}")
        if (trainer.run_dir / "metrics.jsonl").exists():
            plot_training_curves(trainer.run_dir / "metrics.jsonl",
                                 trainer.run_dir / "curves.png")
            print(f"curves: {trainer.run_dir / 'curves.png'}")
    return 0
