"""The policy's imagined future from the latest latent state, for ROS nodes: the language
server's dry runs and the imagination node's periodic preview. No action is ever sent."""

from __future__ import annotations

import numpy as np

from lumos_ros.guards import InputGuard


class Imaginer:
    """Keeps the latest LatentState (and, in state mode, the latest robot/scene state) of a
    node and imagines from it with the checkpoint's policy (loaded on first use)."""

    def __init__(self, node, checkpoint: str, latent_topic: str, state_topic: str,
                 horizon: int = 60, samples: int = 8) -> None:
        from std_msgs.msg import Float32MultiArray

        from lumos_ros.msg import LatentState
        from lumos_ros.qos import RELIABLE

        self.node = node
        self.checkpoint = checkpoint
        self.horizon, self.samples = horizon, samples
        self.guard = getattr(node, "guard", None) or InputGuard(node)
        self.latent: np.ndarray | None = None
        self.state: np.ndarray | None = None
        self._policy = None
        node.create_subscription(LatentState, latent_topic, self._on_latent, RELIABLE)
        if state_topic:
            node.create_subscription(Float32MultiArray, state_topic, self._on_state, RELIABLE)

    @property
    def policy(self):
        if self._policy is None:
            if not self.checkpoint:
                raise ValueError("imagination needs the policy checkpoint (parameter "
                                 "checkpoint)")
            from lumos_core.policy import LumosPolicy

            self._policy = LumosPolicy(self.checkpoint)
        return self._policy

    def _on_latent(self, msg) -> None:
        latent = self.guard.vector("latent state", list(msg.deterministic) +
                                   list(msg.stochastic))
        if latent is not None:
            self.latent = latent.astype(np.float32)

    def _on_state(self, msg) -> None:
        state = self.guard.vector("state (robot_obs + scene_obs)", msg.data, 39)
        if state is not None:
            self.state = state

    def ready(self) -> str | None:
        """Why imagination cannot run now (None: it can)."""
        if self.latent is None:
            return "no latent state received yet (is world_model_filter running?)"
        return None

    def imagine(self, goal, task: str | None, seed: int = 0) -> dict:
        """Imagined futures towards ``goal`` (text or embedding) from the latest latent."""
        import torch

        from lumos_core.imagination import held_block, imagine
        from lumos_core.world_model import State

        policy = self.policy
        deter = policy.cfg.world_model.deter
        feat = torch.as_tensor(self.latent)[None]
        if feat.shape[1] != policy.cfg.world_model.feat_dim:
            raise ValueError(f"latent state has {feat.shape[1]} values, the policy's world "
                             f"model {policy.cfg.world_model.feat_dim}")
        policy.reset()
        policy.state = State(feat[:, :deter], feat[:, deter:])
        policy.filter_steps = 1
        # state mode decodes every step (the end-effector path; cheap), vision only the
        # end frames (the preview publishes one; all 8 x 61 frames cost ~0.5 s on a CPU)
        vision = policy.cfg.world_model.obs_mode == "vision"
        future = imagine(policy, goal, self.horizon, self.samples, seed,
                         decode="final" if vision else True)
        out = {"future": future, "tasks": None, "probability": None}
        if "robot_obs" in future.decoded:
            out["path"] = future.decoded["robot_obs"][..., :3]
        if "scene_obs" in future.decoded and self.state is not None:
            robot, scene = self.state[:15], self.state[15:]
            tasks = future.outcomes(scene, held_block(robot, scene))
            out["tasks"] = tasks
            if task:
                out["probability"] = sum(task in t for t in tasks) / len(tasks)
        return out


def summary(tasks: list[set[str]] | None, samples: int) -> str:
    """'open_drawer 6/8, nothing 2/8'."""
    if tasks is None:
        return "no predicted outcome (a vision model, or no robot state received)"
    counts: dict[str, int] = {}
    for done in tasks:
        for t in sorted(done) or ["nothing"]:
            counts[t] = counts.get(t, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{t} {n}/{samples}" for t, n in ranked)
