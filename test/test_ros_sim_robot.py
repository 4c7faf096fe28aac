"""rclpy integration tests of sim_robot, alone and driven through action_executor."""

import json

import numpy as np
import pytest
from conftest import linked, wait_for

pytestmark = pytest.mark.ros
TIMEOUT = 20.0


@pytest.fixture
def sim(ros):
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from lumos_ros.sim_robot import SimRobot

    robot = ros.add(SimRobot(context=ros.context, parameter_overrides=[
        Parameter("control_rate", value=30.0), Parameter("chain_index", value=0)]))
    node = ros.add(Node("test_client", context=ros.context))
    return robot, node


def _subscribe(node, kind, topic, qos):
    got = []
    node.create_subscription(kind, topic, got.append, qos)
    return got


def test_publishes_cameras_pose_state_and_resets(sim):
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Float32MultiArray
    from std_srvs.srv import Trigger

    from lumos_ros.conversions import image_to_rgb
    from lumos_ros.qos import RELIABLE, SENSOR

    robot, node = sim
    images = _subscribe(node, Image, "/static_cam/image_raw", SENSOR)
    wrist = _subscribe(node, Image, "/wrist_cam/image_raw", SENSOR)
    joints = _subscribe(node, JointState, "/joint_states", SENSOR)
    poses = _subscribe(node, PoseStamped, "/lumos/ee_pose", RELIABLE)
    states = _subscribe(node, Float32MultiArray, "/lumos/sim_state", RELIABLE)
    assert wait_for(lambda: images and wrist and joints and poses and states, TIMEOUT)
    rgb = image_to_rgb(images[-1])
    assert rgb.shape == (64, 64, 3) and rgb.std() > 10
    assert len(joints[-1].position) == 9 and len(states[-1].data) == 39
    assert {m.header.stamp.sec for m in images} & {m.header.stamp.sec for m in poses}
    client = node.create_client(Trigger, "/sim_robot/reset")
    assert client.wait_for_service(timeout_sec=TIMEOUT)
    future = client.call_async(Trigger.Request())
    assert wait_for(future.done, TIMEOUT)
    assert future.result().success and "chain 0" in future.result().message


def test_executor_drives_the_simulated_robot(sim, ros):
    from std_msgs.msg import String

    from lumos_ros.action_executor import ActionExecutor
    from lumos_ros.msg import RelativeAction
    from lumos_ros.qos import LATCHED, RELIABLE

    robot, node = sim
    executor = ros.add(ActionExecutor(context=ros.context))
    tasks = _subscribe(node, String, "/lumos/completed_tasks", LATCHED)
    assert wait_for(lambda: tasks, TIMEOUT) and json.loads(tasks[-1].data) == []
    pub = node.create_publisher(RelativeAction, "/lumos/action", RELIABLE)
    assert wait_for(lambda: linked(pub, executor) and linked(executor.target_pub, robot)
                    and linked(executor.gripper_pub, robot), TIMEOUT)
    start = robot.env.tcp_pose()[0].copy()
    for step in range(30):
        pub.publish(RelativeAction(delta=[0.0, 0.0, -1.0, 0.0, 0.0, 0.0], gripper=1.0,
                                   step=step))
        wait_for(lambda: False, 1 / 30)
    moved = robot.env.tcp_pose()[0] - start
    assert moved[2] < -0.05, f"the arm did not move down: {moved}"
    assert abs(moved[0]) < 0.02 and abs(moved[1]) < 0.02
    assert np.all(np.isfinite(moved))


def test_callbacks_after_destroy_skip_the_closed_simulator(ros):
    """The executor's thread may run a timer tick or a service call after another thread
    destroyed the node (a clean-clone run logged a TypeError from PyBullet in the spin thread):
    every simulator use holds the node's lock and skips a closed simulator."""
    import threading

    from rclpy.parameter import Parameter
    from std_srvs.srv import Trigger

    from lumos_ros.msg import LanguageGoal
    from lumos_ros.sim_robot import SimRobot

    robot = SimRobot(context=ros.context, parameter_overrides=[
        Parameter("control_rate", value=30.0), Parameter("render", value=False)])
    steps = robot.steps
    robot._step()
    assert robot.steps == steps + 1
    with robot._env_lock:                      # as a step in progress does
        destroyer = threading.Thread(target=robot.destroy_node)
        destroyer.start()
        destroyer.join(0.3)
        assert destroyer.is_alive() and not robot.env.closed   # waits for the step
    destroyer.join(TIMEOUT)
    assert not destroyer.is_alive() and robot.env.closed
    robot._step()
    robot._on_goal(LanguageGoal())
    response = robot._on_reset(Trigger.Request(), Trigger.Response())
    assert robot.steps == steps + 1
    assert not response.success and "shut down" in response.message
