"""`lumos config show`: a preset with overrides, every key documented."""

from __future__ import annotations

import argparse
import json

from lumos_core.cli.common import add_config_args, config_from_args


def register(sub) -> None:
    config = sub.add_parser("config", help="show the resolved configuration")
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print a preset with overrides, documented")
    add_config_args(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    show.set_defaults(handler=show_config)


def show_config(args: argparse.Namespace) -> int:
    from lumos_core.config import describe

    config = config_from_args(args)
    if args.json:
        print(json.dumps(config.to_dict(), indent=2))
    else:
        preset = args.preset or args.default_preset
        print(f"# preset: {preset}; overrides: {args.overrides or 'none'}")
        print(describe(config), end="")
    return 0
