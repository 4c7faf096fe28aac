"""The policy on a robot (or the simulated play table).

    ros2 launch lumos_ros policy.launch.py checkpoint:=/path/to/policy use_sim:=false \
        backend:=impedance static_topic:=/static_cam/static_cam/color/image_raw \
        gripper_topic:=/wrist_cam/wrist_cam/color/image_raw
    ros2 service call /lumos/command lumos_ros/srv/LanguageCommand \
        "{instruction: 'open the drawer'}"

Without `launch` (pip-only machines): `policy_bringup` starts the same nodes and files.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("lumos_ros")
    config = os.path.join(share, "config")
    arg = LaunchConfiguration
    ns = arg("namespace")
    cams = {"static_topic": arg("static_topic"), "gripper_cam_topic": arg("gripper_topic")}
    return LaunchDescription([
        DeclareLaunchArgument("checkpoint", description="policy checkpoint directory"),
        DeclareLaunchArgument("use_sim", default_value="true",
                              description="start the simulated play table"),
        DeclareLaunchArgument("backend", default_value="sim",
                              description="action_executor backend: sim, impedance or servo"),
        DeclareLaunchArgument("static_topic", default_value="static_cam/image_raw",
                              description="static camera Image topic (relative names resolve "
                                          "in the namespace)"),
        DeclareLaunchArgument("gripper_topic", default_value="wrist_cam/image_raw",
                              description="wrist camera Image topic"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of every node and, through the relative "
                                          "topic names, of every topic and service (one per "
                                          "robot: namespace:=r1)"),
        Node(package="lumos_ros", executable="sim_robot", namespace=ns,
             condition=IfCondition(arg("use_sim")),
             parameters=[os.path.join(config, "sim_robot.yaml"), cams], output="screen"),
        Node(package="lumos_ros", executable="language_command_server", namespace=ns,
             parameters=[os.path.join(config, "language_command_server.yaml"),
                         {"checkpoint": arg("checkpoint")}], output="screen"),
        Node(package="lumos_ros", executable="world_model_filter", namespace=ns,
             parameters=[os.path.join(config, "world_model_filter.yaml"),
                         {"checkpoint": arg("checkpoint"), **cams}], output="screen"),
        # the policy: at the control rate (policy_publisher.yaml), or on the simulated table one
        # action per observation (policy_publisher_sim.yaml), as in the evaluation
        Node(package="lumos_ros", executable="policy_publisher", namespace=ns,
             condition=UnlessCondition(arg("use_sim")),
             parameters=[os.path.join(config, "policy_publisher.yaml"),
                         {"checkpoint": arg("checkpoint"), "autostart": True}],
             output="screen"),
        Node(package="lumos_ros", executable="policy_publisher", namespace=ns,
             condition=IfCondition(arg("use_sim")),
             parameters=[os.path.join(config, "policy_publisher.yaml"),
                         os.path.join(config, "policy_publisher_sim.yaml"),
                         {"checkpoint": arg("checkpoint"), "autostart": True}],
             output="screen"),
        # the executor: the robot's workspace box (action_executor.yaml), or on the simulated
        # table the simulator's box and per-axis step over it (action_executor_sim.yaml)
        Node(package="lumos_ros", executable="action_executor", namespace=ns,
             condition=UnlessCondition(arg("use_sim")),
             parameters=[os.path.join(config, "action_executor.yaml"),
                         {"backend": arg("backend")}], output="screen"),
        Node(package="lumos_ros", executable="action_executor", namespace=ns,
             condition=IfCondition(arg("use_sim")),
             parameters=[os.path.join(config, "action_executor.yaml"),
                         os.path.join(config, "action_executor_sim.yaml"),
                         {"backend": arg("backend")}], output="screen"),
    ])
