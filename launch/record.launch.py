"""Record play data: teleop -> action_executor -> robot (or the simulated play table), with
teleop_recorder writing CALVIN-format episodes.

    ros2 launch lumos_ros record.launch.py use_sim:=false backend:=impedance \
        output_dir:=$HOME/play/training static_topic:=/static_cam/static_cam/color/image_raw \
        gripper_topic:=/wrist_cam/wrist_cam/color/image_raw
    ros2 service call /teleop_recorder/start std_srvs/srv/Trigger   # or the record button
    ros2 service call /teleop_recorder/stop std_srvs/srv/Trigger

Without `launch` (pip-only machines): `record_bringup` starts the same nodes and files.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, Shutdown
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
        DeclareLaunchArgument("use_sim", default_value="true",
                              description="record the simulated play table"),
        DeclareLaunchArgument("backend", default_value="sim",
                              description="action_executor backend: sim, impedance or servo"),
        DeclareLaunchArgument("input", default_value="twist",
                              description="teleop input: twist, keyboard or script"),
        DeclareLaunchArgument("script", default_value="",
                              description="input=script: YAML steps; a relative path is looked "
                                          "up in the working directory, then in the package's "
                                          "config/ (teleop_script_sim.yaml)"),
        DeclareLaunchArgument("output_dir", default_value="data/recorded/training",
                              description="dataset split the episodes go to (relative: to the "
                                          "working directory)"),
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
        # recording without the operator's input or without the recorder is pointless: either
        # one ending ends the launch (the executor then holds and the recorder commits)
        Node(package="lumos_ros", executable="teleop", namespace=ns,
             parameters=[os.path.join(config, "teleop.yaml"),
                         {"input": arg("input"), "script": arg("script")}], output="screen",
             on_exit=Shutdown(reason="teleop ended")),
        Node(package="lumos_ros", executable="teleop_recorder", namespace=ns,
             parameters=[os.path.join(config, "teleop_recorder.yaml"),
                         {"output_dir": arg("output_dir"), **cams}], output="screen",
             on_exit=Shutdown(reason="teleop_recorder ended")),
    ])
