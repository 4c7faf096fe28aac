"""LUMOS agent units: DITTO reward, lambda-returns, gradients through imagined dynamics with a
frozen world model, plan KL and contrastive losses, ablation switches and baselines."""

import math

import pytest
import torch
import torch.nn.functional as F

from lumos_core.agent import (GEOMETRY_DIM, BehaviourModel, LumosAgent, clip_loss,
                              intrinsic_reward, lambda_return, state_geometry)
from lumos_core.config import load_config
from lumos_core.world_model import WorldModel, balanced_kl


def test_intrinsic_reward_matches_equation_3():
    x = torch.tensor([[1.0, 0.0], [3.0, 4.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[2.0, 0.0], [3.0, 4.0], [0.0, 1.0], [-2.0, -2.0]])
    # <x, y> / max(|x|, |y|)^2: the max-norm denominator penalises a length mismatch
    expected = torch.tensor([2 / 4, 25 / 25, 0.0, -4 / 8])
    assert torch.allclose(intrinsic_reward(x, y), expected)
    assert torch.allclose(intrinsic_reward(y, x), expected)


def test_lambda_return_by_hand():
    rewards = torch.tensor([[1.0, 2.0, 0.0]])
    values = torch.tensor([[0.5, 1.0, 2.0]])
    # R2 = v2 = 2; R1 = 2 + 0.9 (0.5 * 2 + 0.5 * 2) = 3.8; R0 = 1 + 0.9 (0.5 * 1 + 0.5 * 3.8)
    assert torch.allclose(lambda_return(rewards, values, 0.9, 0.5),
                          torch.tensor([[3.16, 3.8, 2.0]]))
    # lambda = 1: discounted reward sum plus the bootstrapped final value
    assert torch.allclose(lambda_return(rewards, values, 0.5, 1.0)[0, 0],
                          torch.tensor(1 + 0.5 * 2 + 0.25 * 2.0))


def _agent(**overrides):
    sets = [f"agent.{k}={v}" for k, v in overrides.items()]
    cfg = load_config("debug", sets)
    torch.manual_seed(0)
    wm = WorldModel(cfg.world_model)
    return LumosAgent(cfg.agent, wm), cfg


def _batch(cfg, b=6):
    g = torch.Generator().manual_seed(1)
    t = cfg.agent.max_window
    mask = torch.ones(b, t, dtype=torch.bool)
    mask[0, 5:] = False
    return {"feat": torch.randn(b, t, cfg.world_model.feat_dim, generator=g),
            "actions": torch.rand(b, t, 7, generator=g) * 2 - 1, "mask": mask,
            "lang": torch.randn(b, 384, generator=g),
            "is_lang": torch.tensor([True, True, True, False, False, False][:b]),
            "align": torch.tensor([True, True, True, False, False, False][:b])}


def test_actor_gradients_flow_through_imagined_dynamics_and_wm_stays_frozen():
    agent, cfg = _agent(use_plan="false", use_alignment="false")
    before = {k: v.clone() for k, v in agent.world_model.state_dict().items()}
    policy, critic, metrics = agent.losses(_batch(cfg))
    assert critic is not None and {"reward", "return", "value"} <= set(metrics)
    opt = torch.optim.Adam(agent.behaviour.actor_params(), lr=1e-2)
    policy.backward()
    actor_grad = agent.behaviour.actor[0].weight.grad
    assert actor_grad is not None and actor_grad.abs().sum() > 0
    assert all(p.grad is None for p in agent.world_model.parameters())
    opt.step()
    for key, value in agent.world_model.state_dict().items():
        assert torch.equal(value, before[key]), key

    # cut the dynamics' dependence on the action: the actor then gets no gradient at all
    agent.behaviour.zero_grad()
    step = agent.world_model.img_step
    agent.world_model.img_step = lambda state, action, *rest: step(state, action.detach(), *rest)
    policy, _, _ = agent.losses(_batch(cfg))
    policy.backward()
    grad = agent.behaviour.actor[0].weight.grad
    assert grad is None or grad.abs().sum() == 0


def test_critic_loss_does_not_reach_the_actor():
    agent, cfg = _agent()
    _, critic, _ = agent.losses(_batch(cfg))
    critic.backward()
    assert agent.behaviour.critic[0].weight.grad.abs().sum() > 0
    assert agent.behaviour.actor[0].weight.grad is None


def test_reward_latent_switch():
    agent_h, cfg = _agent()
    agent_hz, _ = _agent(reward_latent="hz")
    feat = torch.randn(2, cfg.world_model.feat_dim)
    assert agent_h.reward_part(feat).shape[-1] == cfg.world_model.deter
    assert agent_hz.reward_part(feat).shape[-1] == cfg.world_model.feat_dim


def test_plan_kl_and_contrastive_losses_on_toy_inputs():
    logits = torch.randn(4, 3, 5)
    kl, _, _ = balanced_kl(logits, logits.clone(), 0.8)
    assert torch.allclose(kl, torch.zeros(4), atol=1e-6)
    assert (balanced_kl(logits, torch.randn(4, 3, 5), 0.8)[0] > 0).all()
    eye = torch.eye(8) * 5
    aligned = clip_loss(eye, eye, torch.tensor(math.log(100.0)))
    shuffled = clip_loss(eye, eye.roll(1, 0), torch.tensor(math.log(100.0)))
    assert aligned < 0.01 < math.log(8) < shuffled


def test_plan_input_probs_gives_a_collapsed_plan_as_a_constant():
    """A collapsed plan (posterior = prior = uniform; measured on the LUMOS runs of session 24)
    is 1 024 inputs of noise as a one-hot sample; as probabilities it is a constant, and the
    probabilities still pass gradients to the plan networks."""
    agent, cfg = _agent(plan_input="probs")
    b = agent.behaviour
    uniform = torch.zeros(5, cfg.agent.plan_dim, requires_grad=True)
    plan = b.sample_plan(uniform)
    assert plan.shape == (5, cfg.agent.plan_dim)
    assert torch.allclose(plan, torch.full_like(plan, 1 / cfg.agent.plan_classes))
    logits = torch.randn(5, cfg.agent.plan_dim, requires_grad=True)
    plan = b.sample_plan(logits)
    assert torch.equal(plan, b.sample_plan(logits))
    assert torch.allclose(plan.view(5, cfg.agent.plan_stoch, -1).sum(-1),
                          torch.ones(5, cfg.agent.plan_stoch))
    (plan * torch.randn_like(plan)).sum().backward()
    assert logits.grad.abs().sum() > 0
    sampled, _ = _agent()
    one_hot = sampled.behaviour.sample_plan(torch.zeros(64, cfg.agent.plan_dim))
    assert set(one_hot.unique().tolist()) == {0.0, 1.0}
    assert len({tuple(row.nonzero().flatten().tolist()) for row in one_hot}) > 1
    policy_loss, _, metrics = agent.losses(_batch(cfg), bc_only=True)
    assert torch.isfinite(policy_loss) and "plan_kl" in metrics


def test_align_goal_grad_keeps_the_alignment_off_the_actors_goal_embedding():
    """``agent.align_goal_grad=false`` (session 30): the alignment loss no longer moves the
    language-goal embedding the actor reads (its gradient there is the same with and without
    the alignment term), while it still trains its projections and the recognition network."""
    def grads(**overrides):
        agent, cfg = _agent(**overrides)
        torch.manual_seed(5)
        policy, _, metrics = agent.losses(_batch(cfg), bc_only=True)
        assert "align" in metrics or overrides.get("alignment_scale") == 0
        policy.backward()
        b = agent.behaviour
        return ({k: p.grad.clone() for k, p in b.lang_goal.named_parameters()},
                {k: None if p.grad is None else p.grad.clone()
                 for k, p in b.align_lang.named_parameters()})

    for flag, same in (("false", True), ("true", False)):
        with_align, projection = grads(align_goal_grad=flag)
        without, _ = grads(align_goal_grad=flag, alignment_scale=0)
        equal = all(torch.allclose(with_align[k], without[k]) for k in with_align)
        assert equal == same, flag
        assert all(g is not None and g.abs().sum() > 0 for g in projection.values()), flag


def test_clip_loss_of_selected_pairs_is_the_sub_batch_loss():
    """``select``: the pairs left out are masked, not indexed away (one graph under compile):
    the loss and the selected rows' gradients are those of the selected sub-batch, the others
    get none; with fewer than two pairs selected the loss is 0 (not NaN)."""
    g = torch.Generator().manual_seed(3)
    seq, goal = torch.randn(9, 5, generator=g), torch.randn(9, 5, generator=g)
    task = torch.tensor([0, 1, 1, 2, 0, 3, 1, 2, 4])
    select = torch.tensor([1, 1, 0, 1, 1, 0, 1, 0, 1], dtype=torch.bool)
    scale = torch.tensor(1.5)
    for tasks in (None, task):
        a, b = seq.clone().requires_grad_(), goal.clone().requires_grad_()
        masked = clip_loss(a, b, scale, tasks, select)
        masked.backward()
        sa, sb = seq[select].clone().requires_grad_(), goal[select].clone().requires_grad_()
        sub = clip_loss(sa, sb, scale, None if tasks is None else tasks[select])
        sub.backward()
        assert torch.allclose(masked, sub, atol=1e-6)
        assert torch.allclose(a.grad[select], sa.grad, atol=1e-6)
        assert torch.allclose(b.grad[select], sb.grad, atol=1e-6)
        assert not a.grad[~select].any() and not b.grad[~select].any()
    for count in (0, 1):
        few = torch.arange(9) < count
        a = seq.clone().requires_grad_()
        loss = clip_loss(a, goal, scale, task, few)
        loss.backward()
        assert loss.item() == 0.0 and torch.isfinite(a.grad).all() and not a.grad.any()


def test_clip_loss_masks_same_task_negatives():
    scale = torch.tensor(0.0)
    seq, goal = torch.randn(6, 4), torch.randn(6, 4)
    distinct = torch.arange(6)
    # distinct tasks: the mask changes nothing
    assert torch.allclose(clip_loss(seq, goal, scale, distinct), clip_loss(seq, goal, scale))
    # one task throughout: each pair is alone in its softmax row and column, so the loss is 0
    assert clip_loss(seq, goal, scale, torch.zeros(6, dtype=torch.long)) == 0
    # two windows of one task: their mutual logits leave the denominators, nothing else does
    task = torch.tensor([0, 0, 1, 2, 3, 4])
    logits = F.normalize(seq, dim=-1) @ F.normalize(goal, dim=-1).t()
    masked = logits.clone()
    masked[0, 1] = masked[1, 0] = float("-inf")
    rows = torch.stack([torch.logsumexp(masked[i], 0) - logits[i, i] for i in range(6)])
    cols = torch.stack([torch.logsumexp(masked[:, i], 0) - logits[i, i] for i in range(6)])
    assert torch.allclose(clip_loss(seq, goal, scale, task), 0.5 * (rows.mean() + cols.mean()))


def test_same_task_masking_needs_task_ids_and_changes_only_the_alignment_term():
    agent, cfg = _agent(align_mask_same_task="true")
    batch = _batch(cfg)
    with pytest.raises(ValueError, match="task"):
        agent.losses(batch)
    torch.manual_seed(0)
    _, _, distinct = agent.losses({**batch, "task": torch.tensor([0, 1, 2, -1, -1, -1])})
    torch.manual_seed(0)
    _, _, one_task = agent.losses({**batch, "task": torch.tensor([0, 0, 0, -1, -1, -1])})
    assert distinct["align"] > 0 and one_task["align"] == 0
    assert distinct["plan_kl"] == one_task["plan_kl"]


@pytest.mark.parametrize("overrides, present, absent", [
    ({}, {"recognition", "proposal", "critic", "target_critic", "align_seq"}, set()),
    ({"use_ditto": "false"}, {"recognition", "proposal", "align_seq"},
     {"critic", "target_critic"}),
    ({"use_plan": "false"}, {"critic"}, {"recognition", "proposal", "align_seq"}),
    ({"use_alignment": "false"}, {"recognition", "critic"}, {"align_seq", "align_lang"}),
    ({"method": "mcil"}, {"recognition", "proposal"}, {"critic", "align_seq"}),
    ({"method": "gcbc"}, set(), {"recognition", "proposal", "critic", "align_seq"}),
])
def test_each_switch_removes_exactly_its_component(overrides, present, absent):
    cfg = load_config("debug", [f"agent.{k}={v}" for k, v in overrides.items()])
    model = BehaviourModel(cfg.agent, cfg.world_model)
    modules = {name for name, _ in model.named_children()}
    assert present <= modules and not (absent & modules)
    assert {"code", "actor", "lang_goal", "vis_goal"} <= modules
    plan = cfg.agent.plan_dim if "recognition" in present else 0
    assert model.actor[0].in_features == cfg.world_model.feat_dim + cfg.agent.goal_dim + plan


@pytest.mark.parametrize("overrides", [{"use_ditto": "false"}, {"method": "mcil"},
                                       {"method": "gcbc"}])
def test_behaviour_cloning_variants(overrides):
    agent, cfg = _agent(**overrides)
    policy, critic, metrics = agent.losses(_batch(cfg))
    assert critic is None and "bc_mse" in metrics
    policy.backward()
    assert agent.behaviour.actor[0].weight.grad.abs().sum() > 0


def test_alignment_uses_only_selected_language_windows():
    agent, cfg = _agent()
    batch = _batch(cfg)
    _, _, metrics = agent.losses(batch)
    assert "align" in metrics
    batch["align"][:] = False
    _, _, metrics = agent.losses(batch)
    assert "align" not in metrics


def test_target_critic_hard_copy():
    agent, cfg = _agent()
    with torch.no_grad():
        agent.behaviour.critic[0].weight.add_(1.0)
    assert not torch.equal(agent.behaviour.critic[0].weight,
                           agent.behaviour.target_critic[0].weight)
    agent.update_target()
    assert torch.equal(agent.behaviour.critic[0].weight,
                       agent.behaviour.target_critic[0].weight)


def test_policy_benchmark_runs():
    from lumos_core.benchmarks.policy import measure, table

    result = measure("debug", updates=1, steps=10)
    assert result["windows_per_s"] > 0 and result["step_ms_median"] > 0
    assert "| debug | vision |" in table([result])


@pytest.mark.parametrize("overrides", [[], ["agent.actor_latent=h"], ["agent.method=gcbc"]])
def test_conditioned_networks_equal_the_concatenated_input(overrides):
    """The actor and critic compute W_latent latent + (W_goal goal + W_plan plan + b), the goal
    part once per rollout: the same function of the same parameters as net(cat(...)), with
    goal/plan given per window and broadcast over the time dimension."""
    cfg = load_config("debug", overrides)
    torch.manual_seed(0)
    b = BehaviourModel(cfg.agent, cfg.world_model)
    feat = torch.randn(3, 5, cfg.world_model.feat_dim)
    goal = torch.randn(3, cfg.agent.goal_dim)
    plan = torch.randn(3, cfg.agent.plan_dim) if b.uses_plan else None

    def cat(net):
        parts = [b.seen(feat), goal[:, None].expand(-1, 5, -1)]
        parts += [plan[:, None].expand(-1, 5, -1)] if plan is not None else []
        return net(torch.cat(parts, -1))

    mean, std = b.action_dist(feat, goal, plan)
    assert torch.allclose(mean, cat(b.actor).chunk(2, -1)[0], atol=1e-5)
    cond = b.condition(b.actor, goal, plan)
    assert torch.equal(b.action_dist(feat, None, None, cond)[0], mean)
    if b.imagines:
        assert torch.allclose(b.value(b.critic, feat, goal, plan),
                              cat(b.critic).squeeze(-1), atol=1e-5)


def test_actor_can_read_the_latent_through_the_frozen_state_decoder():
    cfg = load_config("debug", ["world_model.obs_mode=state", "agent.actor_latent=hz+decoded",
                                "agent.use_plan=false", "agent.use_alignment=false"])
    torch.manual_seed(0)
    agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
    wm, b = agent.world_model, agent.behaviour
    feat_dim = cfg.world_model.feat_dim
    assert b.actor[0].in_features == feat_dim + 39 + cfg.agent.goal_dim
    # the decoder is the world model's, not a copy saved or trained with the behaviour model
    assert not any("decoder" in key for key in b.state_dict())
    feat = torch.randn(3, feat_dim)
    seen = b.seen(feat)
    assert torch.equal(seen[:, :feat_dim], feat)
    assert torch.allclose(seen[:, feat_dim:], wm.state_decoder(feat))
    before = {k: v.clone() for k, v in wm.state_dict().items()}
    policy, _, _ = agent.losses(_batch(cfg))
    policy.backward()
    assert b.actor[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in wm.parameters())
    assert all(torch.equal(v, before[k]) for k, v in wm.state_dict().items())


def test_a_decoded_actor_input_needs_a_state_world_model():
    cfg = load_config("debug", ["agent.actor_latent=decoded"])
    assert cfg.world_model.obs_mode == "vision"
    with pytest.raises(ValueError, match="state decoder of a state-mode world model"):
        LumosAgent(cfg.agent, WorldModel(cfg.world_model))
    cfg = load_config("debug", ["agent.reward_latent=decoded"])
    with pytest.raises(ValueError, match="needs a state-mode world model"):
        LumosAgent(cfg.agent, WorldModel(cfg.world_model))


def test_state_geometry_reads_block_targets_relative_to_the_gripper():
    """agent.relative_inputs: a block 10 cm ahead of the TCP reads (1, 0, 0); the blocks'
    offsets likewise; a block's yaw enters as sin/cos of twice its angle to the gripper's, the
    same after a half-turn of the block (a box is grasped the same way)."""
    state = torch.zeros(2, 39)
    state[:, 0:3] = torch.tensor([0.3, 0.1, 0.2])
    state[:, 5] = 0.4                                        # TCP yaw
    scene = state[:, 15:]
    for i, pos in enumerate(([0.4, 0.1, 0.2], [0.3, -0.1, 0.0], [0.3, 0.1, 0.25])):
        scene[:, 6 + 6 * i:9 + 6 * i] = torch.tensor(pos)
    scene[:, 11] = 0.4 + math.pi / 4
    scene[1, 11] += math.pi                                  # the red block half-turned
    g = state_geometry(state)
    assert g.shape == (2, GEOMETRY_DIM)
    assert torch.allclose(g[0, 0:3], torch.tensor([1.0, 0.0, 0.0]), atol=1e-5)
    assert torch.allclose(g[0, 3:6], torch.tensor([0.0, -2.0, -2.0]), atol=1e-5)
    assert torch.allclose(g[0, 9:12], torch.tensor([1.0, 2.0, 2.0]), atol=1e-5)   # red - blue
    assert torch.allclose(g[0, 18:20], torch.tensor([1.0, 0.0]), atol=1e-5)       # sin, cos
    assert torch.allclose(g[0], g[1], atol=1e-5)


def test_relative_inputs_extend_the_decoded_input_and_need_it():
    cfg = load_config("debug", ["world_model.obs_mode=state", "agent.actor_latent=decoded",
                                "agent.relative_inputs=true", "agent.method=gcbc"])
    torch.manual_seed(0)
    agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
    wm, b = agent.world_model, agent.behaviour
    assert b.actor[0].in_features == 39 + GEOMETRY_DIM + cfg.agent.goal_dim
    feat = torch.randn(3, cfg.world_model.feat_dim)
    seen = b.seen(feat)
    assert torch.allclose(seen[:, :39], wm.state_decoder(feat))
    assert torch.allclose(seen[:, 39:], state_geometry(wm.decode_state(feat)), atol=1e-5)
    policy, _, _ = agent.losses(_batch(cfg))
    policy.backward()
    assert b.actor[0].weight.grad[:, 39:39 + GEOMETRY_DIM].abs().sum() > 0
    cfg = load_config("debug", ["world_model.obs_mode=state", "agent.relative_inputs=true"])
    with pytest.raises(ValueError, match="relative_inputs=true computes the geometry"):
        LumosAgent(cfg.agent, WorldModel(cfg.world_model))


def test_std_likelihood_term_trains_only_the_std_towards_the_residuals():
    """Defect: BC trained only the actor's mean, so LUMOS started DITTO with whatever std the
    warm-up left (0.05-0.9 measured). ``agent.std_nll_scale`` fits the std to the expert's
    residuals around the detached mean; the mean's gradient is the MSE's alone."""
    agent, cfg = _agent(method="gcbc")
    plain, _ = _agent(method="gcbc", std_nll_scale=1.0)
    plain.behaviour.load_state_dict(agent.behaviour.state_dict())
    batch = _batch(cfg)
    b = agent.behaviour
    goal = b.goal(b.code(batch["feat"]), batch["mask"].long().sum(1) - 1, batch["lang"],
                  batch["is_lang"])
    loss, mse = agent.bc_loss(batch["feat"], goal, None, batch["actions"], batch["mask"])
    assert torch.equal(loss, mse)
    b2 = plain.behaviour
    goal2 = b2.goal(b2.code(batch["feat"]), batch["mask"].long().sum(1) - 1, batch["lang"],
                    batch["is_lang"])
    loss2, mse2 = plain.bc_loss(batch["feat"], goal2, None, batch["actions"], batch["mask"])
    assert torch.allclose(mse2, mse) and not torch.allclose(loss2, mse2)
    # the likelihood reaches the mean head only through the std's shared layers: the last
    # layer's mean rows get exactly the MSE gradient
    mse.backward()
    mean_grad = b.actor[-1].weight.grad[:7].clone()
    loss2.backward()
    assert torch.allclose(b2.actor[-1].weight.grad[:7], mean_grad, atol=1e-6)
    assert b2.actor[-1].weight.grad[7:].abs().sum() > 0 == b.actor[-1].weight.grad[7:].abs().sum()


def test_reward_can_compare_the_decoded_states():
    """``agent.reward_latent=decoded``: eq. 3 on the state decoder's reconstructions (state
    mode), with its statistics in those 39 dimensions."""
    cfg = load_config("debug", ["world_model.obs_mode=state", "agent.reward_latent=decoded",
                                "agent.reward_norm=start"])
    torch.manual_seed(0)
    agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
    feats = torch.randn(50, cfg.world_model.feat_dim)
    agent.set_reward_statistics(feats)
    assert agent.behaviour.reward_mean.shape == (39,)
    a, b, start = torch.randn(3, 4, cfg.world_model.feat_dim).unbind(0)
    x = (agent.world_model.decode(a)["state"] - agent.behaviour.reward_mean) \
        / agent.behaviour.reward_std
    y = (agent.world_model.decode(b)["state"] - agent.behaviour.reward_mean) \
        / agent.behaviour.reward_std
    o = (agent.world_model.decode(start)["state"] - agent.behaviour.reward_mean) \
        / agent.behaviour.reward_std
    assert torch.allclose(agent.reward(a, b, start), intrinsic_reward(x - o, y - o))


@pytest.mark.parametrize("norm", ["none", "start"])
def test_imagined_reward_target_gives_the_experts_actions_the_maximum(norm):
    """agent.reward_target=imagined: the targets are the expert's actions rolled out in the
    world model from the window's first latent; with the same random draws, executing those
    actions earns eq. 3's maximum (1) at every step -- the model's open-loop bias is in both
    trajectories and cannot be exploited. The posterior target is the expert's latents."""
    agent, cfg = _agent(reward_target="imagined", reward_norm=norm)
    batch = _batch(cfg)
    feat, actions, steps = batch["feat"], batch["actions"], 5
    torch.manual_seed(3)
    targets = agent.reward_targets(feat, actions, steps)
    assert targets.shape == (feat.shape[0], steps, cfg.world_model.feat_dim)
    assert not targets.requires_grad
    torch.manual_seed(3)
    rolled, _ = agent.world_model.imagine(agent._split(feat[:, 0]), actions[:, :steps])
    rewards = agent.reward(rolled, targets, feat[:, :1].expand(-1, steps, -1))
    assert torch.allclose(rewards, torch.ones_like(rewards), atol=1e-5)
    assert not torch.allclose(targets, feat[:, 1:steps + 1])
    posterior, _ = _agent(reward_norm=norm)
    assert torch.equal(posterior.reward_targets(feat, actions, steps), feat[:, 1:steps + 1])
    policy, critic, metrics = agent.losses(batch)      # a training step with this target
    assert critic is not None and abs(metrics["reward"]) <= 1


def test_common_noise_gives_the_experts_actions_the_maximum_without_a_shared_seed():
    """agent.imagine_noise=common: the imagined target and a rollout drawn with the same
    Gumbel noise agree exactly for the expert's actions, whatever the global RNG did in
    between; independent draws do not."""
    agent, cfg = _agent(reward_target="imagined", reward_norm="start", imagine_noise="common")
    batch = _batch(cfg)
    feat, actions, steps = batch["feat"], batch["actions"], 6
    noise = agent.imagination_noise(feat.shape[0], steps, feat.device)
    assert noise.shape == (feat.shape[0], steps, cfg.world_model.stoch, cfg.world_model.classes)
    targets = agent.reward_targets(feat, actions, steps, noise)
    torch.rand(100)                                     # the global RNG moves on
    rolled, _ = agent.world_model.imagine(agent._split(feat[:, 0]), actions[:, :steps],
                                          gumbel=noise)
    rewards = agent.reward(rolled, targets, feat[:, :1])
    assert torch.allclose(rewards, torch.ones_like(rewards), atol=1e-5)
    fresh, _ = agent.world_model.imagine(agent._split(feat[:, 0]), actions[:, :steps])
    assert not torch.allclose(agent.reward(fresh, targets, feat[:, :1]), rewards)
    assert _agent()[0].imagination_noise(6, steps, feat.device) is None


def test_mean_actions_and_common_noise_make_imagination_deterministic():
    """agent.imagine_action=mean with shared noise: the same batch gives the same rewards
    (the actor's sampling is the only other randomness); sampled actions differ."""
    agent, cfg = _agent(imagine_noise="common", imagine_action="mean", use_plan="false",
                        use_alignment="false", reward_target="imagined")
    batch = _batch(cfg)
    noise = agent.imagination_noise(6, cfg.agent.max_window - 1, "cpu")
    agent.imagination_noise = lambda *args: noise
    first = agent.losses(batch)[2]["reward"]
    assert agent.losses(batch)[2]["reward"] == first
    agent.cfg = cfg.agent.__class__(**{**cfg.agent.__dict__, "imagine_action": "sample"})
    assert agent.losses(batch)[2]["reward"] != first


def _actor_grad(horizon: int, state_grad: str) -> torch.Tensor:
    """The actor's first-layer gradient of the exact DITTO objective (mean actions, common
    noise, no critic, no BC term) at ``horizon`` with ``agent.imagine_state_grad``."""
    agent, cfg = _agent(imagine_noise="common", imagine_action="mean", use_plan="false",
                        use_alignment="false", reward_target="imagined", bootstrap="none",
                        horizon=horizon, imagine_state_grad=state_grad)
    batch = _batch(cfg)
    noise = agent.imagination_noise(6, horizon - 1, "cpu")
    agent.imagination_noise = lambda *args: noise
    agent.losses(batch)[0].backward()
    return agent.behaviour.actor[0].weight.grad.clone()


def test_stopping_the_state_gradient_cuts_only_the_actors_own_input_path():
    """agent.imagine_state_grad=stop: with one imagined action (horizon 2) the actor's input
    is the expert's latent and both settings give the same gradient; over longer rollouts the
    paths through the actor's later inputs are left out (a different, non-zero gradient)."""
    torch.testing.assert_close(_actor_grad(2, "stop"), _actor_grad(2, "through"))
    stop, through = _actor_grad(5, "stop"), _actor_grad(5, "through")
    assert stop.abs().sum() > 0 and not torch.allclose(stop, through)


def test_without_bootstrap_the_return_is_the_discounted_reward_sum():
    """agent.bootstrap=none: no critic loss; the actor maximises the discounted sum of the
    imagined rewards, and its gradient still flows through the dynamics."""
    agent, cfg = _agent(bootstrap="none", use_plan="false", use_alignment="false",
                        gamma=0.5)
    captured = {}
    original = agent.reward

    def reward(*args):
        captured.setdefault("r", []).append(original(*args))
        return captured["r"][-1]

    agent.reward = reward
    policy, critic, metrics = agent.losses(_batch(cfg))
    assert critic is None and "value" not in metrics
    r = torch.stack(captured["r"], 1)                   # (B, H-1)
    expected = sum(0.5 ** k * r[:, k] for k in range(r.shape[1]))
    assert math.isclose(metrics["return"], expected.mean().item(), rel_tol=1e-5)
    policy.backward()
    assert agent.behaviour.actor[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("gripper", ["binary", "continuous"])
def test_imagination_executes_the_gripper_as_the_robot_does(gripper):
    """Defect (session 10): the world model was given tanh(mean) gripper actions in
    imagination -- values it never saw, and which the policy never executes (it binarises
    them) -- and DITTO moved the gripper mean across 0 at the evaluation's start (gripper
    closed at step 0). agent.imagine_gripper=binary feeds +-1 with a straight-through
    gradient; the arm dimensions are untouched."""
    from lumos_core.agent import binary_gripper

    a = torch.tensor([[0.3, -0.2, 0.1, 0.0, 0.5, -0.5, 0.2], [0, 0, 0, 0, 0, 0, -0.01]],
                     requires_grad=True)
    b = binary_gripper(a)
    assert b[:, 6].tolist() == [1.0, -1.0] and torch.equal(b[:, :6], a[:, :6])
    b[:, 6].sum().backward()
    assert a.grad[:, 6].tolist() == [1.0, 1.0] and a.grad[:, :6].abs().sum() == 0

    agent, cfg = _agent(imagine_gripper=gripper, use_plan="false", use_alignment="false")
    seen = []
    step = agent.world_model.img_step

    def record(state, action, *rest):
        seen.append(action[..., 6].detach())
        return step(state, action, *rest)

    agent.world_model.img_step = record
    agent.losses(_batch(cfg))[0].backward()
    grip = torch.cat(seen)
    assert bool(((grip.abs() - 1).abs() < 1e-6).all()) == (gripper == "binary")
    assert agent.behaviour.actor[-1].weight.grad.abs().sum() > 0
