"""`lumos benchmark latency`: camera timestamp -> published RelativeAction, across processes.

world_model_filter and policy_publisher run as separate processes (their parameter files, as
``policy.launch.py`` starts them); this process plays the robot: it publishes a static and a
wrist camera image pair at ``rate`` Hz (stamped with the time of publishing, real camera sizes
by default: 200x200 and 84x84, which the filter resizes), the end-effector pose, joint states
and a language goal, and receives the actions. Latency of an action = the time it arrives here
minus its ``observation_stamp`` (the stamp of the image pair it was computed from; all on one
host, one clock). The filter's share is measured the same way on ``LatentState``.

Without ``--checkpoint``, a policy checkpoint with random weights of ``--preset`` is written to
a temporary directory: latency does not depend on the weights, only on the architecture.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np


def random_policy_checkpoint(preset: str, out: str | Path, overrides: list[str] = (),
                             extra: dict | None = None) -> Path:
    """A policy checkpoint of ``preset`` (+ ``section.key=value`` overrides) with random
    weights (seed 0): for timing and tests only."""
    import torch

    from lumos_core.agent import BehaviourModel
    from lumos_core.checkpoint import save_checkpoint
    from lumos_core.config import load_config
    from lumos_core.language import MODEL_ID
    from lumos_core.world_model import WorldModel

    cfg = load_config(preset, list(overrides))
    torch.manual_seed(0)
    modules = {"world_model": WorldModel(cfg.world_model),
               "behaviour": BehaviourModel(cfg.agent, cfg.world_model)}
    return save_checkpoint(Path(out), kind="policy", modules=modules, config=cfg,
                           language_model_id=MODEL_ID,
                           extra={"note": "random weights, for latency measurements only",
                                  **(extra or {})})


def _ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def summarize(latencies_ms: list[float]) -> dict:
    """Median, p95, max and count of latencies in milliseconds."""
    if not latencies_ms:
        return {"count": 0, "median_ms": None, "p95_ms": None, "max_ms": None}
    values = np.sort(np.asarray(latencies_ms))
    return {"count": int(len(values)), "median_ms": float(np.median(values)),
            "p95_ms": float(np.percentile(values, 95)), "max_ms": float(values[-1])}


def measure(checkpoint: str | Path, trigger: str = "latent", seconds: float = 20.0,
            rate: float = 15.0, warmup: float = 3.0, static_size: int = 200,
            gripper_size: int = 84, startup_timeout: float = 120.0,
            log_dir: str | Path | None = None) -> dict:
    """Run the two nodes and the camera source; returns the latency summary."""
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import Image, JointState

    from lumos_core.checkpoint import read_meta
    from lumos_ros.conversions import rgb_to_image
    from lumos_ros.launcher import NodeGroup, NodeSpec
    from lumos_ros.msg import LanguageGoal, LatentState, RelativeAction
    from lumos_ros.policy_publisher import TRIGGERS
    from lumos_ros.qos import LATCHED, RELIABLE, SENSOR

    if trigger not in TRIGGERS:
        raise ValueError(f"trigger={trigger!r}; allowed: {', '.join(TRIGGERS)}")
    meta = read_meta(checkpoint)
    if meta["config"]["world_model"]["obs_mode"] != "vision":
        raise ValueError(f"{checkpoint} is a state-mode policy; the camera-to-action latency "
                         "needs a vision checkpoint (e.g. --preset cpu)")
    specs = [NodeSpec("world_model_filter", "world_model_filter.yaml",
                      {"checkpoint": str(checkpoint), "torch_threads": 1}),
             NodeSpec("policy_publisher", "policy_publisher.yaml",
                      {"checkpoint": str(checkpoint), "autostart": True, "trigger": trigger,
                       "control_rate": rate})]
    rng = np.random.default_rng(0)
    frames = [(rng.integers(0, 256, (static_size, static_size, 3), np.uint8),
               rng.integers(0, 256, (gripper_size, gripper_size, 3), np.uint8))
              for _ in range(8)]
    actions: list[float] = []
    latents: list[float] = []
    state = {"measuring": False, "sent": 0}
    with NodeGroup(specs, log_dir=log_dir) as group:
        context = rclpy.Context()
        rclpy.init(context=context)
        node = Node("lumos_latency_benchmark", context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        try:
            def on_action(msg):
                if state["measuring"] and _ns(msg.observation_stamp):
                    actions.append((time.time_ns() - _ns(msg.observation_stamp)) / 1e6)

            def on_latent(msg):
                if state["measuring"]:
                    latents.append((time.time_ns() - _ns(msg.header.stamp)) / 1e6)

            node.create_subscription(RelativeAction, "/lumos/action", on_action, RELIABLE)
            node.create_subscription(LatentState, "/lumos/latent_state", on_latent, RELIABLE)
            static_pub = node.create_publisher(Image, "/static_cam/image_raw", SENSOR)
            wrist_pub = node.create_publisher(Image, "/wrist_cam/image_raw", SENSOR)
            pose_pub = node.create_publisher(PoseStamped, "/lumos/ee_pose", RELIABLE)
            joints_pub = node.create_publisher(JointState, "/joint_states", SENSOR)
            goal_pub = node.create_publisher(LanguageGoal, "/lumos/goal", LATCHED)
            goal = LanguageGoal(instruction="open the drawer", active=True, goal_id=1,
                                embedding=rng.normal(size=384).astype(np.float32).tolist())
            goal_pub.publish(goal)
            pose = PoseStamped()
            pose.pose.position.x, pose.pose.position.z, pose.pose.orientation.x = 0.5, 0.3, 1.0
            joints = JointState(name=[f"panda_joint{i}" for i in range(1, 8)]
                                + ["panda_finger_joint1", "panda_finger_joint2"],
                                position=[0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8, 0.04, 0.04])

            def publish(index: int) -> None:
                stamp = node.get_clock().now().to_msg()
                pose.header.stamp = joints.header.stamp = stamp
                pose_pub.publish(pose)
                joints_pub.publish(joints)
                static, wrist = frames[index % len(frames)]
                static_pub.publish(rgb_to_image(static, stamp, "static_cam"))
                wrist_pub.publish(rgb_to_image(wrist, stamp, "wrist_cam"))
                state["sent"] += 1

            def run_for(duration: float, until=None) -> bool:
                period, start = 1.0 / rate, time.monotonic()
                index = 0
                while time.monotonic() - start < duration:
                    if group.poll():
                        raise RuntimeError(f"a node exited: {group.poll()} (logs: {log_dir})")
                    publish(index)
                    index += 1
                    deadline = start + index * period
                    while time.monotonic() < deadline:
                        executor.spin_once(timeout_sec=max(0.0, deadline - time.monotonic()))
                    if until is not None and until():
                        return True
                return False

            # start-up: until actions flow (model loading, discovery), then warm up, then measure
            state["measuring"] = True
            if not run_for(startup_timeout, lambda: len(actions) > 0):
                raise RuntimeError(f"no action within {startup_timeout} s (logs: {log_dir})")
            run_for(warmup)
            actions.clear()
            latents.clear()
            state["sent"] = 0
            run_for(seconds)
            sent = state["sent"]
            state["measuring"] = False
        finally:
            executor.shutdown()
            node.destroy_node()
            rclpy.shutdown(context=context)
    return {"trigger": trigger, "rate_hz": rate, "seconds": seconds, "image_pairs_sent": sent,
            "static_size": static_size, "gripper_size": gripper_size,
            "preset_image_size": meta["config"]["data"]["image_size"],
            "action": summarize(actions), "latent": summarize(latents)}


def table(results: list[dict]) -> str:
    """Markdown table of :func:`measure` results."""
    lines = ["| trigger | rate | pairs sent | actions | camera->latent ms (median / p95) | "
             "camera->action ms (median / p95 / max) |", "|---|---|---|---|---|---|"]
    for r in results:
        a, lat = r["action"], r["latent"]
        fmt = (lambda v: "-" if v is None else f"{v:.1f}")
        lines.append(f"| {r['trigger']} | {r['rate_hz']:g} Hz | {r['image_pairs_sent']} | "
                     f"{a['count']} | {fmt(lat['median_ms'])} / {fmt(lat['p95_ms'])} | "
                     f"{fmt(a['median_ms'])} / {fmt(a['p95_ms'])} / {fmt(a['max_ms'])} |")
    return "\n".join(lines) + "\n"


def run(checkpoint: str | None, preset: str, triggers: list[str], seconds: float, rate: float,
        out: str | None) -> list[dict]:
    """Measure each trigger mode (one pair of node processes each); optionally write JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        path = checkpoint or random_policy_checkpoint(preset, Path(tmp) / "policy")
        log_dir = Path(out) / "logs" if out else Path(tmp) / "logs"
        results = []
        for trigger in triggers:
            result = measure(path, trigger, seconds, rate, log_dir=log_dir / trigger)
            result["checkpoint"] = str(checkpoint) if checkpoint else f"random {preset}"
            results.append(result)
            print(table([result]).splitlines()[-1], flush=True)
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "latency.json").write_text(json.dumps(results, indent=2))
    return results
