"""policy_publisher: the policy action publisher, a lifecycle node.

configure = load the policy checkpoint; activate = start the control timer; deactivate = stop
it (no more actions); cleanup = release the model. At the control rate (default 15 Hz) it maps
the latest ``LatentState`` and the current ``LanguageGoal`` to a ``RelativeAction``, re-sampling
the plan every ``replan_every`` steps (and on every new goal). Nothing is published without an
active goal or when the latest latent state is older than ``latent_timeout``.

``trigger`` chooses when an action is computed: ``timer`` (default) at ``control_rate`` from the
latest latent state, or ``latent``: one action per new latent state as soon as it arrives (the
camera sets the rate; lowest latency). Every action carries the stamp of the observation its
latent state was filtered from (``observation_stamp``), so observation-to-action latency can be
measured end to end (``lumos benchmark latency``).
"""

from __future__ import annotations

import sys

import numpy as np
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn

from lumos_core.policy import LumosPolicy
from lumos_ros.guards import InputGuard
from lumos_ros.msg import LanguageGoal, LatentState, RelativeAction
from lumos_ros.launcher import run_node
from lumos_ros.params import TORCH_THREADS, Param, apply_torch_threads, declare
from lumos_ros.qos import LATCHED, RELIABLE

TRIGGERS = ("timer", "latent")


PARAMETERS = (
    Param("checkpoint", "", "policy checkpoint directory (loaded on configure)"),
    Param("latent_topic", "lumos/latent_state", "LatentState input (from world_model_filter)"),
    Param("goal_topic", "lumos/goal", "latched LanguageGoal input"),
    Param("action_topic", "lumos/action", "RelativeAction output"),
    Param("control_rate", 15.0, "actions per second with trigger 'timer' (Hz)", 0.5, 100.0),
    Param("latent_timeout", 0.5, "no action from a latent state older than this (s)",
          0.01, 10.0, dynamic=True),
    Param("trigger", "timer", "'timer' (act at control_rate) or 'latent' (act on every new "
          "latent state)"),
    Param("action_mode", "", "'sample', 'mean' or '' (the checkpoint's setting)"),
    TORCH_THREADS,
)


class PolicyPublisher(LifecycleNode):
    """LatentState + LanguageGoal -> RelativeAction at the control rate."""

    def __init__(self, **kwargs) -> None:
        super().__init__("policy_publisher", **kwargs)
        self.guard = InputGuard(self)
        declare(self, PARAMETERS)
        apply_torch_threads(self)
        self.policy: LumosPolicy | None = None
        self.latent = None
        self.latent_time = None
        self.latent_stamp = None
        self.active = False
        self.goal: LanguageGoal | None = None
        self.published = 0
        self.timer = None

    # --- lifecycle ---------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        """Load the checkpoint and create the topics."""
        path = self.get_parameter("checkpoint").value
        if self.get_parameter("trigger").value not in TRIGGERS:
            self.get_logger().error(f"parameter trigger={self.get_parameter('trigger').value!r};"
                                    f" allowed: {', '.join(TRIGGERS)}")
            return TransitionCallbackReturn.FAILURE
        try:
            self.policy = LumosPolicy(path, action_mode=self.get_parameter("action_mode").value
                                      or None)
        except Exception as exc:  # noqa: BLE001 - report any load failure and stay unconfigured
            self.get_logger().error(f"cannot load checkpoint {path!r}: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.pub = self.create_lifecycle_publisher(
            RelativeAction, self.get_parameter("action_topic").value, RELIABLE)
        self.create_subscription(LatentState, self.get_parameter("latent_topic").value,
                                 self._on_latent, RELIABLE)
        self.create_subscription(LanguageGoal, self.get_parameter("goal_topic").value,
                                 self._on_goal, LATCHED)
        self.get_logger().info(f"configured with {path}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        """Start acting."""
        if self.get_parameter("trigger").value == "timer":
            self.timer = self.create_timer(1.0 / self.get_parameter("control_rate").value,
                                           self._tick)
        self.active = True
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        """Stop acting (the executor holds once actions stop)."""
        self.active = False
        if self.timer is not None:
            self.destroy_timer(self.timer)
            self.timer = None
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        """Release the model."""
        self.policy = None
        return TransitionCallbackReturn.SUCCESS

    # --- data --------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _latent_size(self) -> int | None:
        """deter + stoch of the loaded policy (None before it is configured)."""
        if self.policy is None:
            return None
        return self.policy.cfg.world_model.feat_dim

    def _on_latent(self, msg: LatentState) -> None:
        latent = self.guard.vector("latent state", list(msg.deterministic) +
                                   list(msg.stochastic), self._latent_size())
        if latent is None:
            return
        self.latent = latent.astype(np.float32)
        self.latent_time = self._now()
        self.latent_stamp = msg.header.stamp
        if self.active and self.get_parameter("trigger").value == "latent":
            self._tick()

    def _on_goal(self, msg: LanguageGoal) -> None:
        if msg.active and self.guard.vector("language goal embedding", msg.embedding,
                                            384) is None:
            return
        if self.goal is None or msg.goal_id != self.goal.goal_id:
            if self.policy is not None:
                self.policy.counter, self.policy.plan = 0, None   # re-plan for the new goal
        self.goal = msg

    def _tick(self) -> None:
        if self.goal is None or not self.goal.active or len(self.goal.embedding) != 384:
            return
        if self.latent_time is None or self._now() - self.latent_time > \
                self.get_parameter("latent_timeout").value:
            return
        action = self.policy.act(self.latent, np.asarray(self.goal.embedding, np.float32))
        msg = RelativeAction()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.delta = [float(v) for v in action[:6]]
        msg.gripper = float(action[6])
        msg.step = self.policy.counter
        msg.observation_stamp = self.latent_stamp
        self.pub.publish(msg)
        self.published += 1


def _autostart(node: PolicyPublisher) -> int:
    declare(node, [Param("autostart", False,
                         "configure and activate at start (no lifecycle manager)")])
    if node.get_parameter("autostart").value:
        if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            return 2
        node.trigger_activate()
    return 0


def main(args=None) -> int:
    """Run the node; ``--ros-args -p autostart:=true`` configures and activates it at once."""
    return run_node(PolicyPublisher, "policy_publisher", args, start=_autostart)


if __name__ == "__main__":
    sys.exit(main())
