"""Run ROS processes in a loopback-only network namespace (mandatory on these machines).

DDS discovery multicasts; nothing may reach a non-loopback address. Commands that create ROS
nodes call :func:`ensure_loopback_only`, which re-executes the current command inside
``unshare -n`` (``unshare -rn`` when not root) with only ``lo`` up, unless it already runs in
such a namespace.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys

ENV_MARK = "LUMOS_LOOPBACK_NAMESPACE"


def interfaces() -> list[str]:
    """Names of the network interfaces visible to this process."""
    return [name for _, name in socket.if_nameindex()]


def is_loopback_only() -> bool:
    """True when the only network interface is ``lo``."""
    return interfaces() == ["lo"]


def isolated_command(argv: list[str]) -> list[str]:
    """``argv`` wrapped to run in a fresh namespace with only loopback up."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError("`unshare` (util-linux) is required to isolate ROS traffic")
    flags = "-n" if os.geteuid() == 0 else "-rn"
    return [unshare, flags, "bash", "-c", 'ip link set lo up && exec "$@"', "lumos-netns", *argv]


def ros_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for ROS processes: discovery restricted to this host."""
    env = dict(os.environ if env is None else env)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    return env


def ensure_loopback_only() -> None:
    """Re-exec this process in a loopback-only namespace unless it already is in one."""
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if is_loopback_only():
        return
    if os.environ.get(ENV_MARK):
        raise RuntimeError(f"still not loopback-only after unshare (interfaces: {interfaces()})")
    env = ros_environment()
    env[ENV_MARK] = "1"
    argv = isolated_command([sys.executable, *sys.argv])
    os.execve(argv[0], argv, env)
