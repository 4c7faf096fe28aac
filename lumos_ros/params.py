"""Declaring node parameters: one described ``ParameterDescriptor`` per parameter.

A descriptor object shared by several ``declare_parameter`` calls is mutated by each (rclpy
writes the name and type into it), so ``ros2 param describe`` showed one parameter's name and
type for all of them. :func:`declare` builds a fresh descriptor per parameter, with its
description and, for numbers, the allowed range (shown by ``ros2 param describe`` and enforced
by ``ros2 param set``).
"""

from __future__ import annotations

from typing import NamedTuple

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor


class Param(NamedTuple):
    """One parameter: name, default, description; range and whether it may change at run
    time (``dynamic``; read-only otherwise)."""

    name: str
    default: object
    description: str
    low: float | None = None
    high: float | None = None
    dynamic: bool = False


def descriptor(param: Param) -> ParameterDescriptor:
    """A fresh, described descriptor for ``param``."""
    desc = ParameterDescriptor(description=param.description, read_only=not param.dynamic)
    if param.low is not None or param.high is not None:
        if isinstance(param.default, bool):
            pass
        elif isinstance(param.default, int):
            desc.integer_range = [IntegerRange(
                from_value=int(param.low if param.low is not None else -2 ** 31),
                to_value=int(param.high if param.high is not None else 2 ** 31 - 1), step=0)]
        elif isinstance(param.default, float):
            desc.floating_point_range = [FloatingPointRange(
                from_value=float(param.low if param.low is not None else -1e300),
                to_value=float(param.high if param.high is not None else 1e300), step=0.0)]
    return desc


#: CPU threads of a node's networks. One by default: they are small, and with torch's default of
#: one thread per core a node's idle OpenMP threads spin on the cores the other nodes (and any
#: training) need -- on a loaded 2-core machine the language server's start-up (encoding and
#: grounding the training instructions) took 140 s with 2 threads and 18 s with 1 (session 35)
TORCH_THREADS = Param("torch_threads", 1, "CPU threads for the node's networks (0: torch's "
                      "default, one per core)", 0, 256)


def apply_torch_threads(node) -> None:
    """Set this process's torch threads from the node's ``torch_threads`` parameter."""
    threads = node.get_parameter("torch_threads").value
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def declare(node, params: tuple[Param, ...] | list[Param]) -> None:
    """Declare every parameter of ``params`` on ``node``."""
    for param in params:
        node.declare_parameter(param.name, param.default, descriptor(param))
