"""`lumos benchmark latency`: camera-to-command latency through the ROS 2 nodes
(loopback-only namespace; the measurement itself lives in lumos_ros.latency_benchmark)."""

from __future__ import annotations


def register(sub) -> None:
    """`lumos benchmark latency`."""
    from lumos_core.cli.common import SECONDS

    parser = sub.add_parser("latency", help="camera-to-command latency through the ROS nodes")
    parser.add_argument("--checkpoint", default=None,
                        help="vision policy checkpoint (default: random weights of --preset)")
    parser.add_argument("--preset", default="cpu", help="preset of the random policy")
    parser.add_argument("--trigger", nargs="+", default=["latent", "timer"],
                        choices=["latent", "timer"], help="policy_publisher modes")
    parser.add_argument("--seconds", type=SECONDS, default=20.0, help="measured seconds")
    parser.add_argument("--rate", type=SECONDS, default=15.0, help="camera/control Hz")
    parser.add_argument("--out", default=None, help="latency.json and node logs")
    parser.set_defaults(handler=main)


def main(args) -> int:
    from lumos_core.netns import ensure_loopback_only

    if args.out:
        from lumos_core.runs import writable_dir

        writable_dir(args.out)
    ensure_loopback_only()
    from lumos_ros.latency_benchmark import run, table

    print(table(run(args.checkpoint, args.preset, args.trigger, args.seconds, args.rate,
                    args.out)), end="")
    return 0
