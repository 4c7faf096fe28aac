"""The `lumos` command: one entry point, one module per subcommand.

`lumos <command>` is implemented, arguments included, in ``lumos_core/cli/<command>.py``
(dashes become underscores); `lumos benchmark <name>` in ``lumos_core/benchmarks/<name>.py``.

    lumos --help
    lumos config show --preset cpu --set world_model.deter=256
    lumos checkpoint info runs/wm/final
    lumos embed "open the drawer"
    lumos demo

A user error (bad option, bad file, unusable output) ends with one line on stderr and exit
status 2; a traceback means a bug (or ``--debug``, which shows it for any error).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lumos_core.cli.common import Handler, add_config_args, config_from_args

__all__ = ["COMMANDS", "Handler", "add_config_args", "build_parser", "config_from_args", "main"]

#: every subcommand, in the order `lumos --help` lists them
COMMANDS = ("config", "checkpoint", "embed", "collect", "chains", "evaluate", "compare",
            "ladder", "train-wm", "wm-report", "featurize", "train-agent", "imagine",
            "benchmark", "annotate", "bag2dataset", "demo")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="lumos", description="LUMOS: language-conditioned imitation learning in a learned "
                                  "world model (training, evaluation and ROS 2 deployment).")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of any error (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        importlib.import_module(f"lumos_core.cli.{command.replace('-', '_')}").register(sub)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that describe a user's mistake or environment (one line, no traceback)."""
    from lumos_core.checkpoint import CheckpointError
    from lumos_core.config import ConfigError
    from lumos_core.data.calvin import DatasetError
    from lumos_core.data.recording import RecordingError
    from lumos_core.evaluation import ReportError, ResumeError
    from lumos_core.executor import ExecutorParametersError
    from lumos_core.language import LanguageModelMissingError
    from lumos_core.paths import ParameterFileError
    from lumos_core.ladder import LadderError
    from lumos_core.runs import OutputError
    from lumos_core.sim.collect import CollectError

    return (ConfigError, CheckpointError, LanguageModelMissingError, OSError, DatasetError,
            CollectError, RecordingError, LadderError, OutputError, ResumeError,
            ReportError, ExecutorParametersError, ParameterFileError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lumos` console script."""
    from lumos_core.config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("lumos: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - top-level: one clear line, not a traceback
        if args.debug or not isinstance(exc, user_errors()):
            raise
        kind = "config error: " if isinstance(exc, ConfigError) else ""
        print(f"lumos: {kind}{exc}", file=sys.stderr)
        return 2
