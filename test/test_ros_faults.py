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
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _bringup(checkpoint, tmp_path):
    require_loopback_only()
    log = open(tmp_path / "bringup.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "lumos_ros.bringup", "--checkpoint",
                             str(checkpoint)], stdout=log, stderr=subprocess.STDOUT)
    assert wait_for(lambda: len(_children(proc.pid)) == 5 or proc.poll() is not None, 60.0)
    assert proc.poll() is None, (tmp_path / "bringup.log").read_text()
    time.sleep(3.0)                  # the nodes are up and the executor holds a measured pose
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
