"""The end-to-end demo over real ROS 2 processes (run it with `make demo` or `lumos demo`).

Starts the language_command_server as its own process with the simulated play table's training
instructions, then a client process (this one) sends language commands through the real
LanguageCommand service, prints each answer, and checks that a subscriber that starts late still
receives the latched current goal.
"""

from __future__ import annotations

import time

import rclpy
from rclpy.node import Node

from lumos_core.paths import config_file
from lumos_ros.launcher import NodeGroup, NodeSpec
from lumos_ros.msg import LanguageGoal
from lumos_ros.qos import LATCHED
from lumos_ros.srv import LanguageCommand

DEMO_COMMANDS = [
    "slide the drawer open",
    "light up the led",
    "",
    "make me a cup of coffee",
    "shove the red cube leftwards",
]


def _call(node: Node, client, instruction: str, timeout: float):
    request = LanguageCommand.Request()
    request.instruction = instruction
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
    if not future.done():
        raise TimeoutError(f"no answer to {instruction!r} within {timeout:.0f} s")
    return future.result()


def run_demo(timeout: float = 120.0) -> int:
    """Run the demo; returns a process exit code."""
    spec = NodeSpec("language_command_server", "language_command_server.yaml",
                    {"instructions_file": str(config_file("sim_instructions_train.yaml"))})
    with NodeGroup([spec]) as group:
        rclpy.init()
        node = Node("lumos_demo_client")
        try:
            client = node.create_client(LanguageCommand, "/lumos/command")
            start = time.monotonic()
            print("waiting for /lumos/command ...", flush=True)
            while not client.wait_for_service(timeout_sec=1.0):
                if group.poll():
                    print(f"demo: node exited early: {group.poll()}")
                    return 1
                if time.monotonic() - start > timeout:
                    print(f"demo: /lumos/command not available after {timeout:.0f} s")
                    return 1
            print(f"service up after {time.monotonic() - start:.1f} s")
            last_accepted = None
            for instruction in DEMO_COMMANDS:
                res = _call(node, client, instruction, timeout=30.0)
                mark = "ACCEPTED" if res.accepted else "rejected"
                print(f"  {instruction!r:34} -> {mark:8} goal_id={res.goal_id} {res.message}")
                if res.accepted:
                    last_accepted = instruction
            received = []
            late = node.create_subscription(LanguageGoal, "/lumos/goal",
                                            lambda msg: received.append(msg), LATCHED)
            deadline = time.monotonic() + 15.0
            while not received and time.monotonic() < deadline:
                rclpy.spin_once(node, timeout_sec=0.2)
            node.destroy_subscription(late)
            if not received:
                print("demo: a late subscriber did not receive the latched goal")
                return 1
            goal = received[-1]
            print(f"late subscriber got the current goal: {goal.instruction!r} "
                  f"(goal_id {goal.goal_id}, {len(goal.embedding)}-d {goal.model_id})")
            if goal.instruction != last_accepted:
                print(f"demo: expected the goal {last_accepted!r}")
                return 1
            print("demo: OK")
            return 0
        finally:
            node.destroy_node()
            rclpy.shutdown()
