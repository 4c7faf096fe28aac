"""`lumos checkpoint info|export`: verify and inspect, or copy without optimiser state."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    ckpt = sub.add_parser("checkpoint", help="inspect checkpoints")
    actions = ckpt.add_subparsers(dest="action", metavar="ACTION", required=True)
    info_parser = actions.add_parser("info", help="verify a checkpoint and print what it holds")
    info_parser.add_argument("path", help="checkpoint directory")
    info_parser.set_defaults(handler=info)
    export_parser = actions.add_parser("export",
                                       help="copy a checkpoint without optimiser/RNG state")
    export_parser.add_argument("source")
    export_parser.add_argument("destination")
    export_parser.set_defaults(handler=export)


def info(args: argparse.Namespace) -> int:
    from lumos_core.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.path)
    count = sum(t.numel() for t in ckpt.tensors.values())
    files = ckpt.meta["files"]
    print(f"checkpoint:     {ckpt.path}")
    print(f"verified:       yes: {', '.join(sorted(files))} match the sizes and SHA-256 "
          "sums in meta.json" if len(files) > 1 else
          f"verified:       yes: {next(iter(files))} matches its size and SHA-256 in meta.json")
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


def export(args: argparse.Namespace) -> int:
    from lumos_core.checkpoint import load_checkpoint, save_checkpoint
    from lumos_core.runs import writable_dir

    ckpt = load_checkpoint(args.source)
    writable_dir(Path(args.destination).parent, "destination")
    modules = {name: ckpt.state_dict(name) for name in ckpt.modules}
    save_checkpoint(args.destination, kind=ckpt.kind, modules=modules, config=ckpt.config,
                    normalization=ckpt.normalization,
                    language_model_id=ckpt.language_model_id,
                    extra={**ckpt.extra, "exported_from": str(ckpt.path)})
    print(f"exported {ckpt.path} -> {args.destination} (weights only, no optimiser state)")
    return 0
