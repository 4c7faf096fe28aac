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


def declare(node, params: tuple[Param, ...] | list[Param]) -> None:
    """Declare every parameter of ``params`` on ``node``."""
    for param in params:
        node.declare_parameter(param.name, param.default, descriptor(param))
