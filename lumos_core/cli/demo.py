"""`lumos demo`: the whole loop -- simulator, ROS 2 nodes, language commands -- in a
loopback-only network namespace."""

from __future__ import annotations

import argparse

from lumos_core.cli.common import SECONDS


def register(sub) -> None:
    demo = sub.add_parser("demo", help="run the end-to-end demo in a loopback-only namespace")
    demo.add_argument("--timeout", type=SECONDS, default=120.0,
                      help="seconds to wait for the nodes (default: 120)")
    demo.add_argument("--checkpoint", default=None,
                      help="policy checkpoint (default: checkpoints/policy_state_demo)")
    demo.add_argument("--seconds-per-task", type=SECONDS, default=25.0)
    demo.add_argument("--chain", type=int, default=None,
                      help="evaluation chain to play (default: the first whose tasks the "
                           "policy knows in language)")
    demo.add_argument("--out", default="runs/demo", help="video and node logs")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.netns import ensure_loopback_only
    from lumos_core.runs import writable_dir

    writable_dir(args.out)
    ensure_loopback_only()
    from lumos_ros.demo import run_demo

    return run_demo(args.checkpoint, args.seconds_per_task, args.out, args.chain, args.timeout)
