"""`lumos benchmark faults`: inject faults into the running policy stack and measure the
safety response (loopback-only namespace).

For every fault, a fresh stack (``policy_bringup``: the simulated robot and the four policy
nodes, as separate processes) is started with a policy checkpoint, given a goal, and left to
act; then the fault is injected and this process -- watching the topics like a robot would --
measures:

- **time to hold**: from the injection to the executor's ``~/status`` saying it holds (the
  executor publishes that transition together with the hold target, the measured pose);
- **unsafe targets**: targets published after the injection that are non-finite or outside
  the executor's workspace box (the simulated table's: ``config/action_executor_sim.yaml``
  over ``config/action_executor.yaml``; must be 0);
- **nodes left**: node processes still alive 10 s after the supervisor died (must be 0).

Faults: ``kill -9`` of world_model_filter, of policy_publisher and of sim_robot (the pose
source); NaN end-effector poses, NaN actions (published next to the real ones); ``kill -9``
and SIGTERM of the supervisor itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FAULTS = ("kill -9 world_model_filter", "kill -9 policy_publisher", "kill -9 sim_robot",
          "NaN end-effector poses", "NaN actions", "kill -9 policy_bringup",
          "SIGTERM policy_bringup")


def _children(pid: int) -> dict[int, str]:
    """Live child processes of ``pid``: {pid: lumos_ros module it runs}."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            module = next((c.decode() for c in cmd if c.startswith(b"lumos_ros.")), "?")
            out[int(entry)] = module.split(".")[-1]
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Watcher:
    """This process's view of the stack: executor status, targets, and fault publishers."""

    def __init__(self, box: tuple[np.ndarray, np.ndarray]) -> None:
        import rclpy
        from geometry_msgs.msg import PoseStamped
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from std_msgs.msg import String

        from lumos_ros.msg import RelativeAction
        from lumos_ros.qos import LATCHED, RELIABLE
        from lumos_ros.srv import LanguageCommand

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = Node("fault_watcher", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.box = box
        self.status: list[tuple[float, dict]] = []
        self.targets: list[tuple[float, np.ndarray]] = []
        self.node.create_subscription(String, "/action_executor/status", lambda m: self.status
                                      .append((time.monotonic(), json.loads(m.data))), LATCHED)
        self.node.create_subscription(PoseStamped, "/lumos/target_pose", self._on_target,
                                      RELIABLE)
        self.pose_pub = self.node.create_publisher(PoseStamped, "/lumos/ee_pose", RELIABLE)
        self.action_pub = self.node.create_publisher(RelativeAction, "/lumos/action", RELIABLE)
        self.command = self.node.create_client(LanguageCommand, "/lumos/command")

    def _on_target(self, msg) -> None:
        p = msg.pose.position
        self.targets.append((time.monotonic(), np.array([p.x, p.y, p.z])))

    def spin(self, seconds: float, until=None) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)
            if until is not None and until():
                return True
        return until is None

    def goal(self, instruction: str, timeout: float) -> bool:
        from lumos_ros.srv import LanguageCommand

        if not self.spin(timeout, self.command.service_is_ready):
            return False
        future = self.command.call_async(LanguageCommand.Request(instruction=instruction))
        return self.spin(timeout, future.done) and future.result().accepted

    def acting(self) -> bool:
        """Targets are arriving and the executor's latest status (if any: it publishes on
        transitions) does not say it holds."""
        recent = [t for t, _ in self.targets if t > time.monotonic() - 0.5]
        return len(recent) >= 3 and not (self.status and self.status[-1][1]["holding"])

    def hold_after(self, t0: float) -> float | None:
        """Seconds from ``t0`` to the first 'holding' status after it."""
        later = [t for t, s in self.status if t >= t0 and s["holding"]]
        return later[0] - t0 if later else None

    def unsafe_after(self, t0: float) -> int:
        lo, hi = self.box
        return sum(1 for t, p in self.targets if t >= t0 and (
            not np.all(np.isfinite(p)) or np.any(p < lo - 1e-9) or np.any(p > hi + 1e-9)))

    def close(self) -> None:
        import rclpy

        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def _inject(fault: str, watcher: Watcher, bringup: subprocess.Popen,
            nodes: dict[int, str]) -> None:
    from geometry_msgs.msg import PoseStamped

    from lumos_ros.msg import RelativeAction

    if fault.startswith("kill -9") and not fault.endswith("policy_bringup"):
        target = fault.split()[-1]
        for pid, module in nodes.items():
            if module == target:
                os.kill(pid, signal.SIGKILL)
    elif fault == "kill -9 policy_bringup":
        os.kill(bringup.pid, signal.SIGKILL)
    elif fault == "SIGTERM policy_bringup":
        os.kill(bringup.pid, signal.SIGTERM)
    elif fault == "NaN end-effector poses":
        msg = PoseStamped()
        msg.pose.position.x = float("nan")
        msg.pose.orientation.w = 1.0
        for _ in range(30):
            watcher.pose_pub.publish(msg)
            watcher.spin(0.02)
    elif fault == "NaN actions":
        msg = RelativeAction(delta=[float("nan")] * 6, gripper=1.0)
        for _ in range(30):
            watcher.action_pub.publish(msg)
            watcher.spin(0.02)


def run_fault(fault: str, checkpoint: str | Path, instruction: str, log_dir: Path,
              startup_timeout: float = 120.0) -> dict:
    """One fresh stack, one fault; returns the measured row."""
    from lumos_ros.bringup import policy_nodes

    # the box the bringup's executor starts with (on the simulated table: the simulator's)
    params = next(spec for spec in policy_nodes(str(checkpoint))
                  if spec.executable == "action_executor").effective_parameters()
    box = (np.asarray(params["workspace_min"]), np.asarray(params["workspace_max"]))
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{fault.replace(' ', '_').replace('-', '')}.log", "w")
    bringup = subprocess.Popen([sys.executable, "-m", "lumos_ros.bringup", "--checkpoint",
                                str(checkpoint)], stdout=log, stderr=subprocess.STDOUT)
    watcher = Watcher(box)
    row = {"fault": fault, "time_to_hold_ms": None, "unsafe_targets": None, "nodes_left": None,
           "note": ""}
    try:
        up = watcher.spin(startup_timeout, lambda: len(_children(bringup.pid)) == 5
                          and watcher.command.service_is_ready())
        if not up or not watcher.goal(instruction, 30.0):
            row["note"] = "the stack did not come up (see the log)"
            return row
        if not watcher.spin(30.0, watcher.acting):
            row["note"] = "the executor never acted"
            return row
        watcher.spin(2.0)
        nodes = _children(bringup.pid)
        t0 = time.monotonic()
        _inject(fault, watcher, bringup, nodes)
        watcher.spin(3.0, lambda: watcher.hold_after(t0) is not None
                     and not fault.endswith("policy_bringup"))
        watcher.spin(1.0)
        hold = watcher.hold_after(t0)
        row["time_to_hold_ms"] = None if hold is None else 1000 * hold
        row["unsafe_targets"] = watcher.unsafe_after(t0)
        if fault.endswith("policy_bringup"):
            watcher.spin(10.0, lambda: not any(_alive(p) for p in nodes))
            row["nodes_left"] = sum(_alive(p) for p in nodes)
        if fault.startswith("NaN"):
            row["note"] = ("dropped by the executor; the stack keeps acting"
                           if hold is None else "")
        return row
    finally:
        watcher.close()
        for pid in _children(bringup.pid):
            os.kill(pid, signal.SIGTERM)
        if bringup.poll() is None:
            bringup.send_signal(signal.SIGINT)
            try:
                bringup.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bringup.kill()
        log.close()


def run(checkpoint: str | None = None, out: str | Path | None = None,
        faults: tuple[str, ...] = FAULTS, instruction: str = "open the drawer") -> list[dict]:
    """Every fault on a fresh stack; with ``out``, writes faults.json and node logs there."""
    from lumos_core.netns import ensure_loopback_only

    ensure_loopback_only()
    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="lumos-faults-"))
    if checkpoint is None:
        from lumos_core.paths import share_dir

        checkpoint = share_dir() / "checkpoints" / "policy_state_demo"
    rows = []
    for fault in faults:
        rows.append(run_fault(fault, checkpoint, instruction, out / "logs"))
        print(row_text(rows[-1]), flush=True)
    (out / "faults.json").write_text(json.dumps(rows, indent=1))
    return rows


def row_text(r: dict) -> str:
    hold = "–" if r["time_to_hold_ms"] is None else f"{r['time_to_hold_ms']:.0f}"
    left = "–" if r["nodes_left"] is None else str(r["nodes_left"])
    unsafe = "–" if r["unsafe_targets"] is None else str(r["unsafe_targets"])
    return f"| {r['fault']} | {hold} | {unsafe} | {left} | {r['note']} |"


def table(rows: list[dict]) -> str:
    """The markdown table of :func:`run`."""
    head = ("| fault | time to hold (ms) | unsafe targets | nodes left running | note |\n"
            "|---|---|---|---|---|\n")
    return head + "\n".join(row_text(r) for r in rows) + "\n"
