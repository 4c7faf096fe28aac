"""Start the policy nodes without `ros2 launch` (not installable on pip-only machines): the
same executables and parameter files as ``launch/policy.launch.py``.

    policy_bringup --checkpoint CKPT [--no-sim] [--backend impedance] [--namespace NS] \
        [--static-topic T] [--gripper-topic T]
"""

from __future__ import annotations

import argparse
import sys
import time

from lumos_core.executor import EXECUTOR_FILES
from lumos_ros.launcher import NodeGroup, NodeSpec, terminate_as_interrupt


def executor_node(backend: str, namespace: str, use_sim: bool) -> NodeSpec:
    """The action_executor of both bringups (stopped last, after its final hold); on the
    simulated table with the simulator's workspace box and per-axis step over the robot's
    file, so that it passes actions as the simulator's own step does."""
    first, *overlays = EXECUTOR_FILES["sim" if use_sim else "robot"]
    return NodeSpec("action_executor", first, {"backend": backend}, namespace, stop_order=1,
                    overlay_files=tuple(overlays))


def policy_nodes(checkpoint: str, use_sim: bool = True, backend: str = "sim",
                 namespace: str = "", static_topic: str = "", gripper_topic: str = "",
                 sim_parameters: dict | None = None) -> list[NodeSpec]:
    """The node specs of policy.launch.py for these arguments."""
    cams = _cameras(static_topic, gripper_topic)
    specs = [
        NodeSpec("language_command_server", "language_command_server.yaml",
                 {"checkpoint": checkpoint}, namespace),
        NodeSpec("world_model_filter", "world_model_filter.yaml",
                 {"checkpoint": checkpoint, **cams}, namespace),
        # on the simulated table one action per observation, as in the evaluation
        NodeSpec("policy_publisher", "policy_publisher.yaml",
                 {"checkpoint": checkpoint, "autostart": True}, namespace,
                 overlay_files=("policy_publisher_sim.yaml",) if use_sim else ()),
        executor_node(backend, namespace, use_sim),
    ]
    if use_sim:     # the simulated robot stops after the executor's final hold
        specs.insert(0, NodeSpec("sim_robot", "sim_robot.yaml",
                                 {**cams, **(sim_parameters or {})}, namespace, stop_order=2))
    return specs


def _robot_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The robot options both bringups share; parse, and isolate the network for the sim."""
    parser.add_argument("--no-sim", dest="use_sim", action="store_false",
                        help="a real robot instead of the simulated play table")
    parser.add_argument("--backend", default="sim", choices=["sim", "impedance", "servo"])
    parser.add_argument("--namespace", default="")
    parser.add_argument("--static-topic", default="")
    parser.add_argument("--gripper-topic", default="")
    args = parser.parse_args(argv)
    from lumos_core.netns import ensure_loopback_only

    if args.use_sim:
        ensure_loopback_only()
    return args


def _cameras(static_topic: str, gripper_topic: str) -> dict[str, str]:
    """Camera topic parameters that differ from the parameter files' defaults."""
    cams = {}
    if static_topic:
        cams["static_topic"] = static_topic
    if gripper_topic:
        cams["gripper_cam_topic"] = gripper_topic
    return cams


def main(argv: list[str] | None = None) -> int:
    """Run the nodes until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    args = _robot_args(parser, argv)
    specs = policy_nodes(args.checkpoint, args.use_sim, args.backend, args.namespace,
                         args.static_topic, args.gripper_topic)
    return _run(specs, "policy_bringup")


def record_nodes(output_dir: str, use_sim: bool = True, backend: str = "sim",
                 teleop_input: str = "twist", script: str = "", namespace: str = "",
                 static_topic: str = "", gripper_topic: str = "",
                 recorder_parameters: dict | None = None) -> list[NodeSpec]:
    """The node specs of record.launch.py for these arguments."""
    cams = _cameras(static_topic, gripper_topic)
    recorder = {"output_dir": output_dir, **cams, **(recorder_parameters or {})}
    if use_sim:      # scene_obs from the simulator; its camera sizes as they are (64x64)
        recorder.setdefault("state_topic", "lumos/sim_state")
        recorder.setdefault("static_size", 0)
        recorder.setdefault("gripper_size", 0)
    specs = [executor_node(backend, namespace, use_sim),
             NodeSpec("teleop", "teleop.yaml", {"input": teleop_input, "script": script},
                      namespace),
             NodeSpec("teleop_recorder", "teleop_recorder.yaml", recorder, namespace)]
    if use_sim:
        specs.insert(0, NodeSpec("sim_robot", "sim_robot.yaml", cams, namespace, stop_order=2))
    return specs


def _run(specs: list[NodeSpec], name: str, until=None) -> int:
    terminate_as_interrupt()            # kill / systemd / docker stop: the same clean stop
    with NodeGroup(specs) as group:
        try:
            while not group.poll():
                if until is not None and until():
                    return 0
                time.sleep(0.5)
            print(f"{name}: a node exited: {group.poll()}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0


def record_main(argv: list[str] | None = None) -> int:
    """`record_bringup`: record play data (the launch-free record.launch.py)."""
    parser = argparse.ArgumentParser(description=record_main.__doc__)
    parser.add_argument("--output-dir", default="data/recorded/training")
    parser.add_argument("--input", default="twist", choices=["twist", "keyboard", "script"])
    parser.add_argument("--script", default="", help="input=script: YAML steps "
                        "(e.g. config/teleop_script_sim.yaml)")
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="stop after this many seconds (0: until Ctrl-C)")
    args = _robot_args(parser, argv)
    specs = record_nodes(args.output_dir, args.use_sim, args.backend, args.input, args.script,
                         args.namespace, args.static_topic, args.gripper_topic)
    end = time.monotonic() + args.seconds
    return _run(specs, "record_bringup",
                (lambda: time.monotonic() > end) if args.seconds > 0 else None)


if __name__ == "__main__":
    sys.exit(main())
