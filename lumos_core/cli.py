"""The `lumos` command: one entry point, one subcommand per job.

    lumos --help
    lumos config show --preset cpu --set world_model.deter=256
    lumos checkpoint info runs/wm/final
    lumos embed "open the drawer"
    lumos demo
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from lumos_core.config import ConfigError

Handler = Callable[[argparse.Namespace], int]


def add_config_args(parser: argparse.ArgumentParser, default_preset: str = "paper") -> None:
    """The preset/override options shared by every command that takes a config."""
    parser.add_argument("--preset", default=default_preset,
                        help=f"named preset from config/lumos.yaml (default: {default_preset})")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. --set world_model.deter=256 "
                             "(repeatable)")
    parser.add_argument("--presets-file", default=None,
                        help="read presets from this YAML instead of config/lumos.yaml")


def config_from_args(args: argparse.Namespace):
    """Build the validated config an invocation asked for."""
    from lumos_core.config import load_config

    return load_config(args.preset, args.overrides, args.presets_file)


def _config_show(args: argparse.Namespace) -> int:
    from lumos_core.config import describe

    config = config_from_args(args)
    if args.json:
        print(json.dumps(config.to_dict(), indent=2))
    else:
        print(f"# preset: {args.preset}; overrides: {args.overrides or 'none'}")
        print(describe(config), end="")
    return 0


def _checkpoint_info(args: argparse.Namespace) -> int:
    from lumos_core.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.path)
    count = sum(t.numel() for t in ckpt.tensors.values())
    print(f"checkpoint:     {ckpt.path}")
    print(f"kind:           {ckpt.kind}")
    print(f"format version: {ckpt.meta['format_version']}")
    print(f"created:        {ckpt.meta.get('created')}")
    print(f"code version:   {ckpt.meta.get('code_version')}")
    print(f"language model: {ckpt.language_model_id}")
    print(f"parameters:     {count:,}")
    for module in ckpt.modules:
        n = sum(t.numel() for t in ckpt.state_dict(module).values())
        print(f"  {module:<24} {n:>12,}")
    print(f"normalization:  {', '.join(ckpt.normalization) or 'none'}")
    print(f"training state: {'yes' if ckpt.training_state() is not None else 'no'}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from lumos_core.language import LanguageEncoder

    encoder = LanguageEncoder()
    vectors = encoder.encode(args.text)
    for text, vector in zip(args.text, vectors):
        head = ", ".join(f"{v:+.3f}" for v in vector[:6])
        print(f"{text!r}: dim {vector.shape[0]}, [{head}, ...]")
    if len(args.text) > 1:
        sims = vectors @ vectors.T
        print("cosine similarity:")
        for i, text in enumerate(args.text):
            print(f"  {text[:40]:<40} " + " ".join(f"{s:.3f}" for s in sims[i]))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from lumos_core.netns import ensure_loopback_only

    ensure_loopback_only()
    from lumos_ros.demo import run_demo

    return run_demo(timeout=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="lumos", description="LUMOS: language-conditioned imitation learning in a learned "
                                  "world model (training, evaluation and ROS 2 deployment).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    config = sub.add_parser("config", help="show the resolved configuration")
    config_sub = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = config_sub.add_parser("show", help="print a preset with overrides, documented")
    add_config_args(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    show.set_defaults(handler=_config_show)

    ckpt = sub.add_parser("checkpoint", help="inspect checkpoints")
    ckpt_sub = ckpt.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = ckpt_sub.add_parser("info", help="verify a checkpoint and print what it holds")
    info.add_argument("path", help="checkpoint directory")
    info.set_defaults(handler=_checkpoint_info)

    embed = sub.add_parser("embed", help="embed instructions with all-MiniLM-L6-v2 (offline)")
    embed.add_argument("text", nargs="+", help="one or more instructions")
    embed.set_defaults(handler=_embed)

    demo = sub.add_parser("demo", help="run the end-to-end demo in a loopback-only namespace")
    demo.add_argument("--timeout", type=float, default=120.0,
                      help="seconds to wait for the nodes (default: 120)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lumos` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"lumos: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lumos: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - top-level: one clear line, not a traceback
        from lumos_core.checkpoint import CheckpointError
        from lumos_core.language import LanguageModelMissingError

        if isinstance(exc, (CheckpointError, LanguageModelMissingError, FileNotFoundError)):
            print(f"lumos: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
