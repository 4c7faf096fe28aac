"""rclpy integration tests of action_executor (loopback namespace)."""

import numpy as np
import pytest
from conftest import linked, wait_for

pytestmark = pytest.mark.ros
TIMEOUT = 15.0
HOME = (0.5, 0.0, 0.3)
DOWN = (np.pi - 0.01, 0.0, 0.0)


@pytest.fixture
def rig(ros):
    from geometry_msgs.msg import PoseStamped
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from std_msgs.msg import Bool

    from lumos_core.executor import quaternion_from_euler
    from lumos_ros.action_executor import ActionExecutor
    from lumos_ros.msg import RelativeAction
    from lumos_ros.qos import RELIABLE

    executor = ros.add(ActionExecutor(context=ros.context, parameter_overrides=[
        Parameter("action_timeout", value=2.0), Parameter("observation_timeout", value=2.0),
        Parameter("gripper_min_interval", value=0.0)]))
    node = ros.add(Node("test_robot", context=ros.context))
    got = {"target": [], "gripper": [], "executed": []}
    node.create_subscription(PoseStamped, "/lumos/target_pose", got["target"].append, RELIABLE)
    node.create_subscription(Bool, "/lumos/gripper_command", got["gripper"].append, RELIABLE)
    node.create_subscription(RelativeAction, "/lumos/executed_action", got["executed"].append,
                             RELIABLE)
    pose_pub = node.create_publisher(PoseStamped, "/lumos/ee_pose", RELIABLE)
    action_pub = node.create_publisher(RelativeAction, "/lumos/action", RELIABLE)

    def publish_pose(position=HOME):
        msg = PoseStamped()
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = position
        q = quaternion_from_euler(*DOWN)
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = map(float, q)
        pose_pub.publish(msg)

    def act(delta, gripper=1.0):
        # the pose and the action travel on different topics: make sure the executor has a
        # fresh pose before the action arrives (a loaded CI machine reorders them otherwise)
        before = executor.measured_time
        publish_pose()
        assert wait_for(lambda: executor.measured_time != before, TIMEOUT)
        action_pub.publish(RelativeAction(delta=[float(d) for d in delta], gripper=gripper))

    # every link matched before the tests publish (a message sent before discovery is lost)
    assert wait_for(lambda: linked(pose_pub, executor) and linked(action_pub, executor)
                    and linked(executor.target_pub, node) and linked(executor.gripper_pub, node)
                    and linked(executor.executed_pub, node), TIMEOUT)
    publish_pose()
    assert wait_for(lambda: executor.measured is not None, TIMEOUT)
    return executor, node, got, act


def _position(msg):
    p = msg.pose.position
    return np.array([p.x, p.y, p.z])


def test_action_becomes_target_and_executed_action(rig):
    executor, _, got, act = rig
    act([0.5, 0, 0, 0, 0, 0])
    assert wait_for(lambda: got["target"] and got["executed"], TIMEOUT)
    assert np.allclose(_position(got["target"][0]), [0.51, 0.0, 0.3], atol=1e-6)
    assert np.allclose(got["executed"][0].delta[:3], [0.5, 0, 0], atol=1e-5)


def test_nan_action_rejected(rig):
    executor, _, got, act = rig
    act([float("nan"), 0, 0, 0, 0, 0])
    assert wait_for(lambda: executor.counters["rejected"] == 1, TIMEOUT)
    assert not got["executed"]


def test_out_of_workspace_target_clamped(rig):
    executor, _, got, act = rig
    executor.integrator.limits = type(executor.integrator.limits)(workspace_max=(0.75, 0.35,
                                                                                 0.305))
    act([0, 0, 1, 0, 0, 0])
    assert wait_for(lambda: any(abs(_position(t)[2] - 0.305) < 1e-6 for t in got["target"]),
                    TIMEOUT)
    assert executor.counters["clamped"] == 1


def test_gripper_debounce(rig):
    executor, _, got, act = rig
    act([0] * 6, gripper=-1.0)
    assert wait_for(lambda: len(got["executed"]) == 1, TIMEOUT)
    assert not got["gripper"], "one closing step is not enough"
    act([0] * 6, gripper=-1.0)
    assert wait_for(lambda: got["gripper"], TIMEOUT)
    assert got["gripper"][0].data is False


def test_hold_and_resume(rig, ros):
    from std_srvs.srv import Trigger

    executor, node, got, act = rig
    hold = node.create_client(Trigger, "/action_executor/hold")
    resume = node.create_client(Trigger, "/action_executor/resume")
    assert hold.wait_for_service(timeout_sec=TIMEOUT)
    future = hold.call_async(Trigger.Request())
    assert wait_for(future.done, TIMEOUT) and future.result().success
    act([1, 0, 0, 0, 0, 0])
    assert wait_for(lambda: got["target"], TIMEOUT)   # the hold target (measured pose)
    wait_for(lambda: False, 0.3)
    assert executor.counters["applied"] == 0
    assert np.allclose(_position(got["target"][-1]), HOME, atol=1e-6)
    future = resume.call_async(Trigger.Request())
    assert wait_for(future.done, TIMEOUT) and future.result().success
    act([1, 0, 0, 0, 0, 0])
    assert wait_for(lambda: executor.counters["applied"] == 1, TIMEOUT)


def test_stale_observation_holds(rig):
    executor, _, got, act = rig
    act([0.2, 0, 0, 0, 0, 0])
    assert wait_for(lambda: executor.counters["applied"] == 1, TIMEOUT)
    # no more poses or actions: within the timeouts the executor holds the measured pose
    assert wait_for(lambda: executor.counters["held"] >= 1, TIMEOUT)
    # the counter moves before the hold target is published: wait for the message itself
    assert wait_for(lambda: np.allclose(_position(got["target"][-1]), HOME, atol=1e-6), TIMEOUT)


def test_nan_measured_pose_is_dropped_and_never_reaches_the_robot(rig):
    """Fault: a NaN end-effector pose made the executor publish NaN targets."""
    from geometry_msgs.msg import PoseStamped

    from lumos_ros.qos import RELIABLE

    executor, node, got, act = rig
    act([0.2, 0, 0, 0, 0, 0])
    assert wait_for(lambda: executor.counters["applied"] == 1, TIMEOUT)
    bad = node.create_publisher(PoseStamped, "/lumos/ee_pose", RELIABLE)
    assert wait_for(lambda: linked(bad, executor), TIMEOUT)
    msg = PoseStamped()
    msg.pose.position.x = float("nan")
    msg.pose.orientation.w = 1.0
    for _ in range(5):
        bad.publish(msg)
    assert wait_for(lambda: executor.counters["bad_pose"] == 5, TIMEOUT)
    assert np.all(np.isfinite(executor.measured[0]))
    # the last good pose ages: the watchdog holds it, with a finite target
    assert wait_for(lambda: executor.counters["held"] >= 1, TIMEOUT)
    assert all(np.all(np.isfinite(_position(t))) for t in got["target"])


def test_a_stream_of_nan_actions_ends_in_a_hold(rig):
    """Fault: an invalid action refreshed the action watchdog before it was checked, so a NaN
    stream kept the executor from holding."""
    executor, _, got, act = rig
    act([0.2, 0, 0, 0, 0, 0])
    assert wait_for(lambda: executor.counters["applied"] == 1, TIMEOUT)
    fed = executor.last_action_time
    act([float("nan"), 0, 0, 0, 0, 0])
    assert wait_for(lambda: executor.counters["rejected"] == 1, TIMEOUT)
    assert executor.last_action_time == fed              # the watchdog was not fed
    assert wait_for(lambda: executor.counters["held"] >= 1, TIMEOUT)
    assert all(np.all(np.isfinite(_position(t))) for t in got["target"])


def test_franka_gripper_backend_needs_franka_msgs(ros):
    from rclpy.parameter import Parameter

    from lumos_ros.action_executor import ActionExecutor
    from lumos_ros.franka_gripper import franka_msgs_available

    if franka_msgs_available():
        pytest.skip("franka_msgs is installed here")
    with pytest.raises(ValueError, match="needs franka_msgs"):
        ActionExecutor(context=ros.context, parameter_overrides=[
            Parameter("gripper_backend", value="franka")])
