"""The end-to-end demo over real ROS 2 processes (`make demo` / `lumos demo`).

Starts the simulated Panda play table and every policy node (`policy_bringup`: sim_robot,
language_command_server, world_model_filter, policy_publisher, action_executor) with the shipped
checkpoint, resets the scene to evaluation chain 0, then -- as a separate client process -- sends
the chain's five instructions (evaluation paraphrases) through the real LanguageCommand service,
prints for each whether the simulator's task oracle saw it completed, and writes a GIF of the
static camera with the instruction overlaid. Also shows one rejected instruction.

As in the evaluation, each instruction starts where the previous one ended: once the oracle sees
a task done (or its time is up) the client clears the goal (``~/clear``), so the arm holds while
the next instruction is imagined, instead of acting on the finished one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from lumos_core.instructions import load_instruction_file
from lumos_core.media import save_gif
from lumos_core.paths import config_file, share_dir
from lumos_core.sim.chains import load_chains
from lumos_ros.bringup import policy_nodes
from lumos_ros.conversions import image_to_rgb
from lumos_ros.launcher import NodeGroup
from lumos_ros.qos import LATCHED, SENSOR
from lumos_ros.srv import LanguageCommand

DEFAULT_CHECKPOINT = "checkpoints/policy_state_demo"
#: how long a dry run may wait for the filter's first latent after start-up
DRY_RUN_WAIT_S = 10.0


def _spin_for(node: Node, seconds: float, until=None) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
        if until is not None and until():
            return True
    return until is not None and until()


def pick_chain(known_tasks: set[str]) -> int:
    """The first evaluation chain whose tasks the policy was trained to follow in language."""
    for index, chain in enumerate(load_chains()):
        if set(chain["tasks"]) <= known_tasks:
            return index
    return 0


def run_demo(checkpoint: str | None = None, seconds_per_task: float = 25.0,
             out: str = "runs/demo", chain: int | None = None, timeout: float = 120.0) -> int:
    """Run the demo; returns a process exit code (0 when the loop ran, whatever the success)."""
    from lumos_core.checkpoint import read_meta

    checkpoint = checkpoint or str(share_dir() / DEFAULT_CHECKPOINT)
    if not Path(checkpoint).is_dir():
        print(f"demo: policy checkpoint {checkpoint} not found")
        return 1
    if chain is None:
        chain = pick_chain(set(read_meta(checkpoint)["extra"].get("instructions", {})))
    tasks = load_chains()[chain]["tasks"]
    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    specs = policy_nodes(checkpoint, use_sim=True, sim_parameters={"chain_index": chain})
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with NodeGroup(specs, log_dir=out_dir / "logs") as group:
        rclpy.init()
        node = Node("lumos_demo_client")
        frames, completed, caption = [], {"tasks": []}, {"text": "(starting)"}
        node.create_subscription(Image, "/static_cam/image_raw",
                                 lambda m: frames.append((caption["text"], image_to_rgb(m))),
                                 SENSOR)
        node.create_subscription(String, "/lumos/completed_tasks",
                                 lambda m: completed.update(tasks=json.loads(m.data)), LATCHED)
        client = node.create_client(LanguageCommand, "/lumos/command")
        clear = node.create_client(Trigger, "/language_command_server/clear")
        try:
            start = time.monotonic()
            print(f"starting {len(specs)} nodes (logs: {out_dir / 'logs'}) ...", flush=True)
            ready = _spin_for(node, timeout, lambda: client.service_is_ready() and frames
                              or bool(group.poll()))
            if not ready or group.poll():
                print(f"demo: nodes not ready after {timeout:.0f} s; exited: {group.poll()}")
                return 1
            print(f"nodes up after {time.monotonic() - start:.1f} s; chain {chain}: "
                  f"{', '.join(tasks)}")

            def command(text: str, dry_run: bool = False):
                """The service's answer, or a refusal saying none came within the timeout
                (an overloaded machine: imagining takes seconds per dry run)."""
                future = client.call_async(LanguageCommand.Request(instruction=text,
                                                                   dry_run=dry_run))
                if _spin_for(node, timeout, future.done):
                    return future.result()
                future.cancel()
                return LanguageCommand.Response(
                    accepted=False, message=f"no answer from /lumos/command within "
                                            f"{timeout:.0f} s", predicted_success=-1.0)

            def hold() -> None:
                """Clear the goal: the policy stops and the executor holds the arm."""
                _spin_for(node, timeout, clear.call_async(Trigger.Request()).done)

            res = command("what is the weather tomorrow")
            print(f"  {'what is the weather tomorrow'!r:42} -> rejected: {not res.accepted} "
                  f"({res.message})")
            results = []
            for task in tasks:
                text = instructions[task][0]
                dry = command(text, dry_run=True)      # see before it moves
                # the server imagines from the filter's latest latent: right after start-up
                # the first one may not have reached it yet
                deadline = time.monotonic() + DRY_RUN_WAIT_S
                while (not dry.accepted and "not possible" in dry.message
                       and time.monotonic() < deadline):
                    _spin_for(node, 0.5)
                    dry = command(text, dry_run=True)
                if dry.accepted:
                    chance = (f"p = {dry.predicted_success:.2f}"
                              if dry.predicted_success >= 0 else "no prediction")
                    print(f"  {text!r:42}    imagined: {dry.predicted} ({chance})", flush=True)
                else:
                    print(f"  {text!r:42}    imagined: none ({dry.message})", flush=True)
                res = command(text)
                if not res.accepted:
                    print(f"  {text!r:42} -> not accepted: {res.message}")
                    results.append(False)
                    continue
                caption["text"] = text
                t0 = time.monotonic()
                _spin_for(node, 1.0)   # the simulator re-bases its oracle on the new goal
                done = _spin_for(node, seconds_per_task, lambda: task in completed["tasks"])
                took = time.monotonic() - t0
                hold()
                results.append(done)
                mark = "completed" if done else "not completed"
                print(f"  {text!r:42} -> {mark:13} ({task}, {took:.1f} s)", flush=True)
            chain_len = next((i for i, ok in enumerate(results) if not ok), len(results))
            print(f"oracle: {sum(results)}/{len(results)} instructions completed; "
                  f"CALVIN chain length {chain_len}")
            gif = _write_gif(frames, out_dir / "demo.gif")
            print(f"video: {gif} ({len(frames)} camera frames)")
            print("demo: OK")
            return 0
        finally:
            node.destroy_node()
            rclpy.shutdown()


def _write_gif(frames: list, path: Path) -> Path:
    from lumos_core.evaluation import overlay_instruction

    images = [overlay_instruction(rgb, text, None) for i, (text, rgb) in enumerate(frames)
              if i % 2 == 0]
    if images:
        save_gif(path, images, 15 / 2)
    return path
