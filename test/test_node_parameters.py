"""Every node parameter is described: its own descriptor (name, type), a description, and a
range for numbers (ros2 param describe showed one shared descriptor's name and type)."""

import importlib

import pytest

from lumos_ros.params import descriptor

NODES = ("action_executor", "policy_publisher", "sim_robot", "world_model_filter", "teleop",
         "teleop_recorder", "imagination_node", "language_command_server")


@pytest.mark.parametrize("module", NODES)
def test_every_parameter_is_described_with_a_valid_range(module):
    params = importlib.import_module(f"lumos_ros.{module}").PARAMETERS
    names = [p.name for p in params]
    assert len(names) == len(set(names))
    for p in params:
        assert len(p.description) > 10, p.name
        d = descriptor(p)
        assert d.description == p.description and d.read_only == (not p.dynamic)
        ranges = list(d.floating_point_range) + list(d.integer_range)
        if ranges:
            assert ranges[0].from_value <= p.default <= ranges[0].to_value, p.name
    assert descriptor(params[0]) is not descriptor(params[0])


@pytest.mark.ros
def test_ros2_param_describe_shows_each_parameters_own_name_and_type(ros):
    from rcl_interfaces.msg import ParameterType
    from rclpy.parameter import Parameter

    from lumos_ros.action_executor import PARAMETERS, ActionExecutor

    node = ros.add(ActionExecutor(context=ros.context))
    described = node.describe_parameters([p.name for p in PARAMETERS])
    for param, desc in zip(PARAMETERS, described):
        assert desc.name == param.name and desc.description == param.description
    types = {d.name: d.type for d in described}
    assert types["max_target_distance"] == ParameterType.PARAMETER_DOUBLE
    assert types["backend"] == ParameterType.PARAMETER_STRING
    assert types["workspace_min"] == ParameterType.PARAMETER_DOUBLE_ARRAY
    # run-time changes: a timeout may be set, a safety limit may not, nor a value out of range
    assert node.set_parameters([Parameter("action_timeout", value=0.5)])[0].successful
    assert not node.set_parameters([Parameter("action_timeout", value=50.0)])[0].successful
    assert not node.set_parameters([Parameter("max_target_distance",
                                              value=1.0)])[0].successful
