"""Shared fixtures. ROS fixtures refuse to run outside a loopback-only network namespace."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from lumos_core.netns import interfaces, is_loopback_only

REPO = Path(__file__).resolve().parent.parent


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def linked(publisher, *nodes) -> bool:
    """True when ``publisher`` and every subscription of ``nodes`` on its topic have matched
    each other. Both sides matter: a reliable writer that matched a reader before the reader
    matched it sends a sample the reader drops, and Fast DDS resends it only after its next
    heartbeat (~3 s later) -- the cause of this suite's old timing flakes."""
    topic = publisher.topic_name
    subs = [s for n in nodes for s in n.subscriptions if s.topic_name == topic]
    if not subs:
        raise ValueError(f"no subscription on {topic} in the given nodes")
    return (publisher.get_subscription_count() >= len(subs)
            and all(s.get_publisher_count() >= 1 for s in subs))


def require_loopback_only() -> None:
    """Fail (not skip) a ROS test that would otherwise send DDS traffic off this host."""
    if not is_loopback_only():
        pytest.fail("ROS tests must run in a loopback-only network namespace (interfaces here: "
                    f"{interfaces()}); run them with `make test`")
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


# `make test` runs each ROS test file in its own process and gives each a different base, so
# no two processes ever share a DDS domain (Fast DDS accepts domain ids up to 232).
_DOMAINS = iter(range(int(os.environ.get("LUMOS_TEST_DOMAIN_BASE") or "20"), 233))


@pytest.fixture
def ros():
    """A fresh rclpy context with a single-threaded executor spinning in a background thread.

    Single-threaded on purpose: with rclpy's MultiThreadedExecutor, messages to these nodes
    were measured arriving 1.5-3 s late now and then (the cause of the suite's old timing
    flakes); the nodes themselves run under ``rclpy.spin`` (single-threaded) in deployment.

    Every test gets its own DDS domain (also for the processes it starts), so participants
    that outlive a test cannot talk to the next one.
    """
    require_loopback_only()
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    domain = next(_DOMAINS)
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    executor = SingleThreadedExecutor(context=context)
    thread = threading.Thread(target=executor.spin, daemon=True)

    class Ros:
        def __init__(self):
            self.context = context
            self.executor = executor
            self.nodes = []

        def add(self, node):
            self.nodes.append(node)
            executor.add_node(node)
            if not thread.is_alive():
                thread.start()
            return node

    handle = Ros()
    try:
        yield handle
    finally:
        executor.shutdown(timeout_sec=5)
        for node in handle.nodes:
            node.destroy_node()
        rclpy.shutdown(context=context)
        if thread.is_alive():
            thread.join(timeout=5)
        os.environ.pop("ROS_DOMAIN_ID", None)


def random_wm_batch(cfg, b: int, t: int) -> tuple:
    """Random observations, previous actions and reset flags (the first step of each
    sequence) of ``b`` sequences of ``t`` steps for the world model of ``cfg`` (a LumosConfig):
    the arguments of ``WorldModel.loss``."""
    import torch

    from lumos_core.benchmarks.world_model import _inputs

    first = torch.zeros(b, t, dtype=torch.bool)
    first[:, 0] = True
    return _inputs(cfg.world_model, b, t, "cpu"), torch.randn(b, t, 7).clamp(-1, 1), first


def random_agent_batch(cfg, windows: int, seed: int = 1) -> dict:
    """A batch of random expert windows in the agent's layout (latents, actions, mask, language
    embeddings; the first half language goals with alignment) for ``cfg`` (a LumosConfig)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    t = cfg.agent.max_window
    half = torch.arange(windows) < windows // 2
    return {"feat": torch.randn(windows, t, cfg.world_model.feat_dim, generator=g),
            "actions": torch.rand(windows, t, 7, generator=g) * 2 - 1,
            "mask": torch.ones(windows, t, dtype=torch.bool),
            "lang": torch.randn(windows, 384, generator=g), "is_lang": half, "align": half}


def write_random_episodes(split, lengths, static_size=16, gripper_size=8, seed=0):
    """A split of random-content episodes of the given lengths (CALVIN format); returns it."""
    from lumos_core.data.synthetic import write_random_play

    return write_random_play(split, lengths, static_size=static_size,
                             gripper_size=gripper_size, seed=seed)


@pytest.fixture(scope="session")
def sim_dataset(tmp_path_factory, encoder):
    """A small scripted play dataset (2 recordings of 120 frames, 64x64 cameras)."""
    from lumos_core.config import CollectConfig, SimConfig
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.collect import collect

    cfg = CollectConfig(frames=240, episode_length=120, validation_fraction=0.5, workers=1,
                        lang_density=0.1, seed=3)
    root = tmp_path_factory.mktemp("sim_play")
    instructions = load_instruction_file(config_file("sim_instructions_train.yaml"))
    summary = collect(root, SimConfig(), cfg, instructions, encoder=encoder, progress=False)
    return root, summary, cfg


@pytest.fixture(scope="session")
def policy_checkpoint(tmp_path_factory):
    """A state-mode policy checkpoint with random weights (debug sizes)."""
    from lumos_ros.latency_benchmark import random_policy_checkpoint

    return random_policy_checkpoint(
        "debug", tmp_path_factory.mktemp("policy") / "ckpt",
        ["world_model.obs_mode=state", "world_model.use_proprio=false"],
        {"instructions": {"open_drawer": ["open the drawer"]}})


@pytest.fixture(scope="session")
def encoder():
    """The real all-MiniLM-L6-v2 encoder, loaded once per test session."""
    from lumos_core.language import LanguageEncoder

    enc = LanguageEncoder()
    enc.encode(["warm up"])
    return enc
