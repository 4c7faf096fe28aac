"""rclpy integration tests of world_model_filter and the policy_publisher lifecycle node."""

import time

import numpy as np
import pytest
from conftest import linked, wait_for

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
    assert wait_for(lambda: linked(pub, ros.nodes[0]) and linked(ros.nodes[0].pub, node),
                    TIMEOUT)
    for _ in range(3):
        pub.publish(Float32MultiArray(data=[0.1] * 39))
    assert wait_for(lambda: len(got) == 3, TIMEOUT)
    cfg = load_checkpoint(policy_checkpoint).lumos_config().world_model
    assert len(got[0].deterministic) == cfg.deter and len(got[0].stochastic) == cfg.stoch_dim
    assert got[0].is_first and not got[1].is_first and got[2].step == 3
    pub.publish(Float32MultiArray(data=[0.1] * 5))    # malformed: logged, nothing published
    wait_for(lambda: False, 0.3)
    assert len(got) == 3


def _policy_rig(ros, checkpoint, **params):
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from lumos_core.checkpoint import load_checkpoint
    from lumos_ros.msg import LatentState, RelativeAction
    from lumos_ros.policy_publisher import PolicyPublisher
    from lumos_ros.qos import RELIABLE

    overrides = [Parameter("checkpoint", value=str(checkpoint))]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    pp = ros.add(PolicyPublisher(context=ros.context, parameter_overrides=overrides))
    assert pp.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert pp.trigger_activate() == TransitionCallbackReturn.SUCCESS
    node = ros.add(Node("test_client", context=ros.context))
    actions = []
    node.create_subscription(RelativeAction, "/lumos/action", actions.append, RELIABLE)
    latent_pub = node.create_publisher(LatentState, "/lumos/latent_state", RELIABLE)
    cfg = load_checkpoint(checkpoint).lumos_config().world_model
    assert wait_for(lambda: linked(latent_pub, pp) and linked(pp.pub, node), TIMEOUT)

    def latent(stamp_ns=0):
        msg = LatentState(deterministic=[0.0] * cfg.deter, stochastic=[0.0] * cfg.stoch_dim)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
        return msg
    return pp, node, actions, latent_pub, latent


def test_policy_publisher_lifecycle(ros, policy_checkpoint):
    from rclpy.lifecycle import TransitionCallbackReturn

    pp, node, actions, latent_pub, latent = _policy_rig(
        ros, policy_checkpoint, control_rate=20.0, latent_timeout=1.0)

    def stream(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            latent_pub.publish(latent())
            time.sleep(0.02)

    # negative checks count what the node published (pp.published), not what arrived: a
    # message in flight on a loaded machine must not decide them
    stream(0.5)
    assert pp.latent is not None and pp.published == 0, "no goal: no action"
    goal_pub = _goal(node)
    assert wait_for(lambda: pp.goal is not None, TIMEOUT)
    stream(2.0)
    n = pp.published
    # 40 expected at 20 Hz; a loaded machine delays timer ticks, never adds them
    assert 4 <= n <= 45, f"{n} actions in 2 s at 20 Hz"
    assert wait_for(lambda: len(actions) == pp.published, TIMEOUT)
    a = actions[-1]
    assert all(-1 <= v <= 1 for v in a.delta) and a.gripper in (-1.0, 1.0)
    # latent stream stopped: once the last latent state is older than latent_timeout, no action
    assert wait_for(lambda: pp._now() - pp.latent_time > 1.2, TIMEOUT)
    stale = pp.published
    time.sleep(0.4)
    assert pp.published == stale, "stale latent state: no action"
    assert pp.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    stream(0.4)
    assert pp.published == stale, "inactive: no action"
    assert goal_pub.get_subscription_count() >= 1


def test_policy_publisher_latent_trigger_carries_the_observation_stamp(ros, policy_checkpoint):
    pp, node, actions, latent_pub, latent = _policy_rig(ros, policy_checkpoint,
                                                        trigger="latent")
    _goal(node)
    assert wait_for(lambda: pp.goal is not None, TIMEOUT)
    stamps = [1_700_000_000_000_000_000 + i * 66_000_000 for i in range(5)]
    for stamp in stamps:
        latent_pub.publish(latent(stamp))
    assert wait_for(lambda: len(actions) == 5, TIMEOUT), "one action per latent state"
    got = [a.observation_stamp.sec * 10**9 + a.observation_stamp.nanosec for a in actions]
    assert got == stamps
    time.sleep(0.3)
    assert len(actions) == 5, "no timer in latent mode"


def test_policy_publisher_refuses_a_bad_trigger(ros, policy_checkpoint):
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from lumos_ros.policy_publisher import PolicyPublisher

    pp = ros.add(PolicyPublisher(context=ros.context, parameter_overrides=[
        Parameter("checkpoint", value=str(policy_checkpoint)),
        Parameter("trigger", value="sometimes")]))
    assert pp.trigger_configure() == TransitionCallbackReturn.FAILURE


def test_policy_publisher_refuses_a_bad_checkpoint(ros, tmp_path):
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from lumos_ros.policy_publisher import PolicyPublisher

    pp = ros.add(PolicyPublisher(context=ros.context, parameter_overrides=[
        Parameter("checkpoint", value=str(tmp_path / "missing"))]))
    assert pp.trigger_configure() == TransitionCallbackReturn.FAILURE
