"""What every `lumos` subcommand shares: config options, checked argument types, outputs.

Numbers are checked where they are parsed (``--chains 0`` or ``--max-steps -1`` is a usage
error naming the option, not a run that does nothing or the wrong thing), and outputs are
checked before any work starts (:mod:`lumos_core.runs`).
"""

from __future__ import annotations

import argparse
import math
from typing import Callable

Handler = Callable[[argparse.Namespace], int]


def add_config_args(parser: argparse.ArgumentParser, default_preset: str = "paper") -> None:
    """The preset/override options shared by every command that takes a config."""
    # default None: a resumed training can tell "no preset given" (it then keeps the run's)
    parser.add_argument("--preset", default=None,
                        help=f"named preset from config/lumos.yaml (default: {default_preset})")
    parser.set_defaults(default_preset=default_preset)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. --set world_model.deter=256 "
                             "(repeatable)")
    parser.add_argument("--presets-file", default=None,
                        help="read presets from this YAML instead of config/lumos.yaml")


def config_from_args(args: argparse.Namespace):
    """Build the validated config an invocation asked for."""
    from lumos_core.config import load_config

    return load_config(args.preset or args.default_preset, args.overrides, args.presets_file)


def gave_config(args: argparse.Namespace) -> bool:
    """Whether the invocation chose a configuration (--preset, --set or --presets-file)."""
    return bool(args.preset or args.overrides or args.presets_file)


def int_at_least(low: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def number(low: float = -math.inf, high: float = math.inf,
           low_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite float in [low, high] (or (low, high] with ``low_open``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if value < low or (low_open and value == low) or value > high:
            bound = f"> {low}" if low_open else f">= {low}"
            if high != math.inf:
                bound += f" and <= {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    parse.__name__ = "number"
    return parse


POSITIVE = int_at_least(1)
NON_NEGATIVE = int_at_least(0)
MINUTES = number(0.0, low_open=True)
SECONDS = number(0.0, low_open=True)


def add_threads(parser: argparse.ArgumentParser, help: str = "CPU threads (default: 1)") -> None:
    """--threads, shared by the training and featurizing commands."""
    parser.add_argument("--threads", type=POSITIVE, default=1, help=help)


def set_threads(args: argparse.Namespace) -> None:
    """CPU threads per process: 1 by default (2 threads under load ran 1.2-3x slower here)."""
    import torch

    torch.set_num_threads(args.threads)
