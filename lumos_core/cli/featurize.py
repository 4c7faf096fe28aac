"""`lumos featurize`: the world model's filtered latents of every frame of a dataset."""

from __future__ import annotations

import argparse

from lumos_core.cli.common import add_threads, set_threads


def register(sub) -> None:
    feat = sub.add_parser("featurize", help="world-model latents of every frame of a dataset")
    feat.add_argument("checkpoint")
    feat.add_argument("--dataset", required=True)
    feat.add_argument("--out", required=True)
    feat.add_argument("--device", default=None)
    add_threads(feat)
    feat.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.featurize import featurize
    from lumos_core.runs import writable_dir

    set_threads(args)
    writable_dir(args.out)
    summary = featurize(args.checkpoint, args.dataset, args.out, device=args.device or "cpu")
    for split, n in summary["splits"].items():
        print(f"{split}: {n} frames x {summary['feat_dim']} features -> {args.out}/{split}")
    return 0
