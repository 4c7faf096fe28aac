"""rclpy integration tests of world_model_filter and the policy_publisher lifecycle node."""


import numpy as np
import pytest
from conftest import wait_for

pytestmark = pytest.mark.ros
TIMEOUT = 15.0


def _goal(node, active=True, goal_id=1):
    from lumos_ros.msg import LanguageGoal
    from lumos_ros.qos import LATCHED

    pub = node.create_publisher(LanguageGoal, "/lumos/goal", LATCHED)
    emb = np.random.default_rng(0).normal(size=384).astype(np.float32)
    pub.publish(LanguageGoal(instruction="open the drawer", embedding=emb.tolist(),
                             active=active, goal_id=goal_id))
    return pub


def test_filter_publishes_latent_states(ros, policy_checkpoint):
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from std_msgs.msg import Float32MultiArray

    from lumos_core.checkpoint import load_checkpoint
    from lumos_ros.msg import LatentState
    from lumos_ros.qos import RELIABLE
    from lumos_ros.world_model_filter import WorldModelFilter

    ros.add(WorldModelFilter(context=ros.context, parameter_overrides=[
        Parameter("checkpoint", value=str(policy_checkpoint))]))
    node = ros.add(Node("test_client", context=ros.context))
    got = []
    node.create_subscription(LatentState, "/lumos/latent_state", got.append, RELIABLE)
    pub = node.create_publisher(Float32MultiArray, "/lumos/sim_state", RELIABLE)
    assert wait_for(lambda: pub.get_subscription_count() >= 1, TIMEOUT)
    for _ in range(3):
        pub.publish(Float32MultiArray(data=[0.1] * 39))
    assert wait_for(lambda: len(got) == 3, TIMEOUT)
    cfg = load_checkpoint(policy_checkpoint).lumos_config().world_model
    assert len(got[0].deterministic) == cfg.deter and len(got[0].stochastic) == cfg.stoch_dim
    assert got[0].is_first and not got[1].is_first and got[2].step == 3
    pub.publish(Float32MultiArray(data=[0.1] * 5))    # malformed: logged, nothing published
    wait_for(lambda: False, 0.3)
    assert len(got) == 3


def test_policy_publisher_refuses_a_bad_checkpoint(ros, tmp_path):
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from lumos_ros.policy_publisher import PolicyPublisher

    pp = ros.add(PolicyPublisher(context=ros.context, parameter_overrides=[
        Parameter("checkpoint", value=str(tmp_path / "missing"))]))
    assert pp.trigger_configure() == TransitionCallbackReturn.FAILURE
