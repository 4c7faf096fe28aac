"""Fault injection on the whole policy stack (loopback namespace): the bringup's nodes never
outlive it, and SIGTERM stops them as cleanly as Ctrl-C, the executor last with a final hold."""

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import require_loopback_only, wait_for

pytestmark = pytest.mark.ros


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    from lumos_ros.fault_benchmark import _children as children

    return list(children(pid))


def _alive(pid: int) -> bool:
    from lumos_ros.fault_benchmark import _alive as alive

    return alive(pid)


def _bringup(checkpoint, tmp_path):
    require_loopback_only()
    log = open(tmp_path / "bringup.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "lumos_ros.bringup", "--checkpoint",
                             str(checkpoint)], stdout=log, stderr=subprocess.STDOUT)
    assert wait_for(lambda: len(_children(proc.pid)) == 5 or proc.poll() is not None, 60.0)
    assert proc.poll() is None, (tmp_path / "bringup.log").read_text()
    # every node has finished starting (the language server, loading the sentence model, is
    # the slowest): a signal during an import would end that node with a traceback
    marks = ("known tasks", "configured with", "world model of", "simulated play table",
             "holding until actions arrive")

    def started():
        text = (tmp_path / "bringup.log").read_text()
        return all(m in text for m in marks) or proc.poll() is not None

    assert wait_for(started, 180.0), (tmp_path / "bringup.log").read_text()
    time.sleep(3.0)                  # the executor has received measured poses
    return proc, _children(proc.pid), log


def test_nodes_die_with_a_killed_bringup(policy_checkpoint, tmp_path):
    """Fault: `kill -9` of policy_bringup left all five nodes running with parent PID 1."""
    proc, children, log = _bringup(policy_checkpoint, tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    gone = wait_for(lambda: not any(_alive(c) for c in children), 20.0)
    left = [c for c in children if _alive(c)]
    for c in left:
        os.kill(c, signal.SIGKILL)
    log.close()
    assert gone, f"{len(left)} node(s) outlived the bringup"


def test_sigterm_stops_the_stack_cleanly_with_a_final_hold(policy_checkpoint, tmp_path):
    """Fault: SIGTERM (kill, systemd, docker stop) was not a clean stop."""
    proc, children, log = _bringup(policy_checkpoint, tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    log.close()
    assert not any(_alive(c) for c in children)
    text = (tmp_path / "bringup.log").read_text()
    assert "final hold at the measured pose" in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


def test_two_namespaced_executors_keep_their_parameters_and_do_not_collide(ros, tmp_path):
    """Faults: config files keyed by the bare node name were ignored under namespace:= (the
    workspace box dropped), and absolute topic names made two robots' stacks collide."""
    import numpy as np
    import yaml
    from geometry_msgs.msg import PoseStamped
    from rclpy.node import Node

    from lumos_core.executor import quaternion_from_euler
    from lumos_core.paths import config_file
    from lumos_ros.action_executor import ActionExecutor
    from lumos_ros.msg import RelativeAction
    from lumos_ros.qos import RELIABLE

    params = yaml.safe_load(config_file("action_executor.yaml").read_text())
    params["/**"]["ros__parameters"]["max_target_distance"] = 0.031   # a site's own value
    path = tmp_path / "executor.yaml"
    path.write_text(yaml.safe_dump(params))
    robots = {ns: ros.add(ActionExecutor(context=ros.context, namespace=ns,
                                         cli_args=["--ros-args", "--params-file", str(path)]))
              for ns in ("r1", "r2")}
    for executor in robots.values():
        assert executor.get_parameter("max_target_distance").value == 0.031
        assert executor.integrator.limits.max_target_distance == 0.031
    node = ros.add(Node("two_robots_test", context=ros.context))
    pose_pub = node.create_publisher(PoseStamped, "/r1/lumos/ee_pose", RELIABLE)
    action_pub = node.create_publisher(RelativeAction, "/r1/lumos/action", RELIABLE)
    assert wait_for(lambda: pose_pub.get_subscription_count() == 1
                    and action_pub.get_subscription_count() == 1, 15.0)
    msg = PoseStamped()
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = 0.5, 0.0, 0.3
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = map(float, quaternion_from_euler(np.pi - 0.01, 0.0, 0.0))
    pose_pub.publish(msg)
    assert wait_for(lambda: robots["r1"].measured is not None, 15.0)
    action_pub.publish(RelativeAction(delta=[0.5, 0, 0, 0, 0, 0], gripper=1.0))
    assert wait_for(lambda: robots["r1"].counters["applied"] == 1, 15.0)
    assert robots["r2"].measured is None and robots["r2"].counters["applied"] == 0


def test_fault_names_agree():
    """`lumos benchmark faults` offers exactly the faults the script injects (the CLI does not
    import rclpy to list them)."""
    import argparse

    from lumos_core.benchmarks import faults
    from lumos_ros.fault_benchmark import FAULTS

    sub = argparse.ArgumentParser().add_subparsers()
    faults.register(sub)
    parser = sub.choices["faults"]
    assert tuple(next(a for a in parser._actions if a.dest == "faults").choices) == FAULTS


@pytest.mark.parametrize("shut_down", [True, False])
def test_a_signal_racing_the_executor_is_a_clean_exit(monkeypatch, shut_down):
    """SIGTERM shut the context down while rclpy.spin built its next wait set; rclpy raised
    RCLError ('the given context is not valid') and the recorder exited with 1 after
    committing its episode. It is a clean shutdown now (exit 0, on_exit runs); the same error
    with a live context is still an error."""
    import rclpy
    from rclpy._rclpy_pybind11 import RCLError
    from rclpy.node import Node

    from lumos_ros.launcher import run_node

    require_loopback_only()
    exited = []

    def spin(node):
        if shut_down:
            rclpy.shutdown()
        raise RCLError("failed to initialize wait set: the given context is not valid")

    monkeypatch.setattr(rclpy, "spin", spin)

    def run():
        return run_node(lambda: Node("racing_node"), "racing_node", on_exit=exited.append)
    if shut_down:
        assert run() == 0
    else:
        with pytest.raises(RCLError):
            run()
    assert len(exited) == 1 and not rclpy.ok()
