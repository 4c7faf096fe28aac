"""Start the language command service alone.

    ros2 launch lumos_ros language_command.launch.py instructions_file:=/path/tasks.yaml
    ros2 service call /lumos/command lumos_ros/srv/LanguageCommand \
        "{instruction: 'open the drawer'}"
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("lumos_ros")
    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the node"),
        DeclareLaunchArgument("checkpoint", default_value="",
                              description="policy checkpoint: its instructions set the domain"),
        DeclareLaunchArgument("instructions_file", default_value="",
                              description="YAML task -> [instructions] when no checkpoint"),
        Node(
            package="lumos_ros",
            executable="language_command_server",
            namespace=LaunchConfiguration("namespace"),
            parameters=[
                os.path.join(share, "config", "language_command_server.yaml"),
                {"checkpoint": LaunchConfiguration("checkpoint"),
                 "instructions_file": LaunchConfiguration("instructions_file")},
            ],
            output="screen",
        ),
    ])
