"""Node executables of the package: name -> "module:function".

The same table appears in setup.py (console_scripts) and CMakeLists.txt
(LUMOS_NODE_EXECUTABLES); test/test_packaging.py keeps the three in sync.
"""

NODES = {
    "language_command_server": "lumos_ros.language_command_server:main",
    "action_executor": "lumos_ros.action_executor:main",
    "sim_robot": "lumos_ros.sim_robot:main",
    "world_model_filter": "lumos_ros.world_model_filter:main",
    "policy_publisher": "lumos_ros.policy_publisher:main",
    "policy_bringup": "lumos_ros.bringup:main",
    "teleop_recorder": "lumos_ros.teleop_recorder:main",
    "teleop": "lumos_ros.teleop:main",
    "record_bringup": "lumos_ros.bringup:record_main",
    "imagination": "lumos_ros.imagination_node:main",
}
