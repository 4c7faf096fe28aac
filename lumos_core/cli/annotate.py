"""`lumos annotate`: describe random windows of a dataset in language (resumable)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lumos_core.cli.common import POSITIVE, int_at_least


def register(sub) -> None:
    ann = sub.add_parser("annotate", help="describe random windows of a dataset in language "
                         "(terminal; GIFs; resumable)")
    ann.add_argument("dataset", help="dataset root (CALVIN format)")
    ann.add_argument("--split", default="training", choices=["training", "validation"])
    ann.add_argument("--count", type=POSITIVE, default=50, help="windows in this session")
    ann.add_argument("--length", type=int_at_least(2), default=64,
                     help="frames per window (CALVIN: 64)")
    ann.add_argument("--seed", type=int, default=0)
    ann.add_argument("--gif-dir", default="runs/annotate", help="where the window GIFs go")
    ann.add_argument("--new-session", action="store_true",
                     help="start a new session although another one is unfinished")
    ann.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.annotate import run as annotate
    from lumos_core.runs import writable_dir

    writable_dir(args.gif_dir, "--gif-dir")
    annotate(Path(args.dataset) / args.split, args.count, args.length, args.seed,
             args.gif_dir, new_session=args.new_session)
    return 0        # stopping early is not an error: the next run resumes
