"""`lumos benchmark faults`: fault injection on the running policy stack -- time to hold,
unsafe targets published, nodes left running (the measurement lives in
lumos_ros.fault_benchmark; loopback-only namespace)."""

from __future__ import annotations


def register(sub) -> None:
    """`lumos benchmark faults`."""
    FAULTS = ("kill -9 world_model_filter", "kill -9 policy_publisher", "kill -9 sim_robot",
              "NaN end-effector poses", "NaN actions", "kill -9 policy_bringup",
              "SIGTERM policy_bringup")

    parser = sub.add_parser("faults", help="fault injection: time to hold, unsafe targets, "
                            "orphaned nodes")
    parser.add_argument("--checkpoint", default=None,
                        help="policy checkpoint (default: checkpoints/policy_state_demo)")
    parser.add_argument("--faults", nargs="+", default=list(FAULTS), choices=FAULTS,
                        metavar="FAULT", help="faults to inject (default: all): "
                        + "; ".join(FAULTS))
    parser.add_argument("--out", default=None, help="faults.json and the node logs")
    parser.set_defaults(handler=main)


def main(args) -> int:
    if args.out:
        from lumos_core.runs import writable_dir

        writable_dir(args.out)
    from lumos_core.netns import ensure_loopback_only

    ensure_loopback_only()
    from lumos_ros.fault_benchmark import run, table

    rows = run(args.checkpoint, args.out, tuple(args.faults))
    print(table(rows), end="")
    return 0 if all(not r["unsafe_targets"] and not r["nodes_left"] for r in rows) else 1
