"""World model: shapes, straight-through gradients, KL balancing, learning, checkpoints,
exact resume, open-loop report, featurizer."""

import json

import numpy as np
import pytest
import torch

from lumos_core.config import load_config
from lumos_core.featurize import Features, featurize, load_world_model
from lumos_core.train_wm import WorldModelTrainer
from lumos_core.wm_report import open_loop, write_open_loop
from lumos_core.world_model import (WorldModel, balanced_kl, categorical_sample, kl_categorical,
                                    parameter_count, previous_actions)


def _obs(cfg, b, t):
    g = torch.Generator().manual_seed(0)
    obs = {"robot_obs": torch.randn(b, t, 15, generator=g)}
    if cfg.obs_mode == "state":
        obs["scene_obs"] = torch.randn(b, t, 24, generator=g)
    else:
        for cam in ("rgb_static", "rgb_gripper"):
            obs[cam] = torch.randint(0, 256, (b, t, 64, 64, 3), generator=g, dtype=torch.uint8)
    return obs


@pytest.mark.parametrize("preset", ["debug", "state"])
def test_shapes_and_recurrent_api(preset):
    cfg = load_config(preset).world_model
    wm = WorldModel(cfg)
    b, t = 3, 4
    first = torch.zeros(b, t, dtype=torch.bool)
    first[:, 0] = True
    state, feat, dists = wm.observe(wm.initial(b), _obs(cfg, b, t), torch.zeros(b, t, 7), first)
    assert feat.shape == (b, t, cfg.feat_dim) and state.h.shape == (b, cfg.deter)
    assert dists["post"].shape == dists["prior"].shape == (b, t, cfg.stoch, cfg.classes)
    z = feat[..., cfg.deter:].reshape(b, t, cfg.stoch, cfg.classes)
    assert torch.allclose(z.sum(-1), torch.ones(())) and torch.allclose(z, z.round(), atol=1e-6)
    imagined, states = wm.imagine(state, torch.zeros(b, 5, 7))
    assert imagined.shape == (b, 5, cfg.feat_dim) and len(states) == 5
    by_policy, _ = wm.imagine(state, lambda s: torch.tanh(s.h[:, :7]), horizon=2)
    assert by_policy.shape == (b, 2, cfg.feat_dim)
    recon = wm.decode(feat)
    if cfg.obs_mode == "state":
        assert recon["state"].shape == (b, t, 39)
    else:
        assert recon["rgb_static"].shape == (b, t, 3, 64, 64)


def test_paper_preset_matches_official_size():
    assert abs(parameter_count(WorldModel(load_config("paper").world_model)) - 39.9e6) < 0.1e6


def test_straight_through_gradients_reach_the_encoder():
    cfg = load_config("debug").world_model
    wm = WorldModel(cfg)
    obs = _obs(cfg, 2, 1)
    # one step from the reset state: h does not depend on the observation, so any gradient in
    # the encoder comes through the sampled one-hot z (straight-through)
    _, feat, _ = wm.observe(wm.initial(2), obs, torch.zeros(2, 1, 7),
                            torch.ones(2, 1, dtype=torch.bool))
    wm.decode(feat)["rgb_static"].pow(2).mean().backward()
    grad = wm.encoders["rgb_static"].net[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_kl_balancing_matches_hand_computation():
    post = torch.tensor([[[0.0, 1.0, 2.0]], ])
    prior = torch.tensor([[[1.0, 0.0, 0.0]], ])
    q = np.exp([0, 1, 2]) / np.exp([0, 1, 2]).sum()
    p = np.exp([1, 0, 0]) / np.exp([1, 0, 0]).sum()
    kl = float((q * np.log(q / p)).sum())
    assert kl_categorical(post, prior).item() == pytest.approx(kl, rel=1e-5)
    post.requires_grad_(True)
    prior.requires_grad_(True)
    loss, kl_post, kl_prior = balanced_kl(post, prior, 0.8)
    assert loss.item() == pytest.approx(kl, rel=1e-5)
    loss.sum().backward()
    # the prior gets 0.8 of the gradient of KL(sg(q)||p), the posterior 0.2 of KL(q||sg(p))
    p_ref = prior.detach().clone().requires_grad_(True)
    kl_categorical(post.detach(), p_ref).sum().backward()
    assert torch.allclose(prior.grad, 0.8 * p_ref.grad)
    q_ref = post.detach().clone().requires_grad_(True)
    kl_categorical(q_ref, prior.detach()).sum().backward()
    assert torch.allclose(post.grad, 0.2 * q_ref.grad)
    free, _, _ = balanced_kl(post.detach(), post.detach(), 0.8, free_nats=1.0)
    assert free.item() == pytest.approx(1.0)


def test_previous_actions():
    a = torch.arange(2 * 3 * 7, dtype=torch.float32).view(2, 3, 7)
    first = torch.tensor([[True, False, False], [True, False, True]])
    prev = previous_actions(a, first)
    zero = torch.tensor([0, 0, 0, 0, 0, 0, 1.0])
    assert torch.equal(prev[0, 0], zero) and torch.equal(prev[0, 2], a[0, 1])
    assert torch.equal(prev[1, 2], zero)


def _cfg(root, preset, **over):
    sets = [f"data.dataset={root}", "wm_train.seq_len=8", "wm_train.batch_size=4",
            "wm_train.log_every=5", "wm_train.eval_every=1000", "wm_train.checkpoint_every=1000"]
    return load_config(preset, sets + [f"{k}={v}" for k, v in over.items()])


@pytest.mark.parametrize("preset, steps", [("debug", 40), ("state", 60)])
def test_loss_decreases_on_tiny_dataset(sim_dataset, tmp_path, preset, steps):
    torch.set_num_threads(1)
    root = sim_dataset[0]
    over = {"world_model.deter": 32, "world_model.hidden": 32, "world_model.mlp_units": 64,
            "wm_train.lr": 1e-3} if preset == "state" else {"wm_train.lr": 1e-3}
    trainer = WorldModelTrainer(_cfg(root, preset, **over), tmp_path, progress=False)
    before = trainer.validate(data=trainer.train)["loss"]
    trainer.fit(steps)
    after = trainer.validate(data=trainer.train)["loss"]
    assert after < 0.8 * before, (before, after)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines and {"loss", "kl_prior", "grad_norm", "frames_per_s"} <= set(lines[0])
    assert list((tmp_path / "tensorboard").iterdir())


def test_resume_is_exact(sim_dataset, tmp_path):
    torch.set_num_threads(1)
    cfg = _cfg(sim_dataset[0], "debug", **{"wm_train.checkpoint_every": 10})
    straight = WorldModelTrainer(cfg, tmp_path / "a", progress=False)
    straight.fit(20)
    first = WorldModelTrainer(cfg, tmp_path / "b", progress=False)
    first.fit(10)
    resumed = WorldModelTrainer(cfg, tmp_path / "b", progress=False)
    resumed.resume()
    assert resumed.step == 10
    resumed.fit(20)
    for (name, a), (_, b) in zip(straight.model.state_dict().items(),
                                 resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    # resumed with another learning rate: the configuration's, not the saved optimiser's
    other = WorldModelTrainer(_cfg(sim_dataset[0], "debug", **{"wm_train.checkpoint_every": 10,
                                                               "wm_train.lr": 1e-6}),
                              tmp_path / "b", progress=False)
    other.resume()
    assert [g["lr"] for g in other.opt.param_groups] == [1e-6]


def test_a_new_run_starts_from_another_checkpoints_world_model(sim_dataset, tmp_path):
    """``--init-from``: the weights and their normalisation come from the checkpoint (not this
    dataset's statistics), the optimiser and the step count start fresh, the run trains on
    and says where it started; another world-model configuration is refused by key."""
    from lumos_core.checkpoint import read_meta
    from lumos_core.runs import OutputError

    torch.set_num_threads(1)
    cfg = _cfg(sim_dataset[0], "debug")
    source = WorldModelTrainer(cfg, tmp_path / "src", progress=False)
    source.fit(3)
    with torch.no_grad():
        source.model.robot_mean.add_(1.0)        # not what this dataset's statistics give
    path = source.save("final")
    tuned = WorldModelTrainer(cfg, tmp_path / "ft", progress=False)
    assert "fresh optimiser" in tuned.init_from(path)
    for (name, a), (_, b) in zip(source.model.state_dict().items(),
                                 tuned.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert tuned.step == 0 and not tuned.opt.state
    final = tuned.fit(2)
    assert tuned.step == 2 and read_meta(final)["extra"]["initialised_from"] == str(path)
    wider = _cfg(sim_dataset[0], "debug", **{"world_model.deter": 48})
    with pytest.raises(OutputError, match="--init-from: .*world_model.deter"):
        WorldModelTrainer(wider, tmp_path / "w", progress=False).init_from(path)


def test_checkpoint_round_trip_report_and_featurize(sim_dataset, tmp_path):
    torch.set_num_threads(1)
    root = sim_dataset[0]
    # without the filter warm-up the history-free latent is exactly the episode's first step
    cfg = _cfg(root, "state", **{"world_model.deter": 32, "world_model.hidden": 32,
                                 "world_model.mlp_units": 32, "world_model.filter_warmup": 0})
    trainer = WorldModelTrainer(cfg, tmp_path / "run", progress=False)
    trainer.fit(5)
    path = trainer.save("final")
    model, loaded_cfg = load_world_model(path)
    assert loaded_cfg == cfg
    for (name, a), (_, b) in zip(trainer.model.state_dict().items(),
                                 model.state_dict().items()):
        assert torch.equal(a, b), name

    result = open_loop(model, trainer.val, context=5, horizon=30, sequences=2)
    summary = write_open_loop(result, tmp_path / "report")
    assert len(summary["mse"]) == 30
    for name in ("open_loop_error.png", "open_loop_state.png", "open_loop.json"):
        assert (tmp_path / "report" / name).is_file()

    info = featurize(path, root, tmp_path / "feats", progress=False)
    assert info["splits"] == {"training": 120, "validation": 120}
    feats = Features(tmp_path / "feats" / "training")
    assert feats.arrays["features"].shape == (120, cfg.world_model.feat_dim)
    assert feats.arrays["zero_features"].shape == (120, cfg.world_model.feat_dim)
    assert feats.meta["weights_sha256"] == json.loads((path / "meta.json").read_text())[
        "files"]["model.safetensors"]["sha256"]
    deter = cfg.world_model.deter
    h_filtered = np.asarray(feats.arrays["features"][0, :deter])
    h_free = np.asarray(feats.arrays["zero_features"][0, :deter])
    assert np.allclose(h_filtered, h_free, atol=1e-6), "episode start must be history-free"
    assert not np.allclose(feats.arrays["features"][50, :deter],
                           feats.arrays["zero_features"][50, :deter], atol=1e-4)


def test_vision_open_loop_report(sim_dataset, tmp_path):
    cfg = _cfg(sim_dataset[0], "debug")
    trainer = WorldModelTrainer(cfg, tmp_path / "run", progress=False)
    summary = write_open_loop(open_loop(trainer.model, trainer.val, horizon=12, sequences=1),
                              tmp_path / "report")
    assert len(summary["rgb_static"]["psnr"]) == 12
    for name in ("open_loop_rgb_static.png", "open_loop_rgb_gripper.gif",
                 "open_loop_error.png"):
        assert (tmp_path / "report" / name).is_file()


def test_categorical_sample_follows_the_probabilities():
    """The sampler of z and plans (inverse CDF) draws each class at its probability and
    never a class of probability 0, for any leading shape."""
    torch.manual_seed(0)
    probs = torch.tensor([[0.0, 0.1, 0.0, 0.2, 0.7], [1.0, 0.0, 0.0, 0.0, 0.0]])
    draws = categorical_sample(probs.repeat(100_000, 1, 1))
    assert draws.shape == (100_000, 2) and draws.dtype == torch.int64
    freq = torch.stack([torch.bincount(draws[:, i], minlength=5) for i in range(2)]) / 100_000
    assert torch.allclose(freq, probs, atol=0.005)
    assert not freq[0, [0, 2]].any() and freq[1, 0] == 1.0
    # unnormalised rows (float32 softmax sums are not exactly 1) stay in range
    assert categorical_sample(torch.full((1000, 32), 1.01 / 32)).max() < 32


@pytest.mark.parametrize("first_at", [None, 3])
def test_one_step_overshooting_is_the_filters_prior_kl(first_at):
    """Overshooting one step from the posterior state s_t predicts exactly the filter's own
    prior at t+1, so its KL equals the one-step KL(sg(q) || p) of eq. 2 over steps 1..T-1;
    a step that starts a new episode is left out."""
    torch.manual_seed(0)
    cfg = load_config("state", ["world_model.deter=32", "world_model.hidden=32",
                                "world_model.mlp_units=32"]).world_model
    wm = WorldModel(cfg)
    b, t = 2, 6
    first = torch.zeros(b, t, dtype=torch.bool)
    first[:, 0] = True
    if first_at is not None:
        first[:, first_at] = True
    obs = _obs(cfg, b, t)
    actions = torch.randn(b, t, 7)
    _, feat, dists = wm.observe(wm.initial(b), obs, actions, first)
    _, metrics = wm.overshooting(feat, dists["post"], obs, actions, first, 1)
    kl = kl_categorical(dists["post"], dists["prior"])[:, 1:]
    keep = ~first[:, 1:]
    assert metrics["overshoot_kl"] == pytest.approx(float(kl[keep].mean()), rel=1e-5)


def test_overshooting_trains_the_open_loop_dynamics(sim_dataset, tmp_path):
    """With wm_train.overshoot the loss has the multi-step term, whose gradient reaches the
    GRU and the prior; the trainer logs it."""
    torch.set_num_threads(1)
    over = {"world_model.deter": 32, "world_model.hidden": 32, "world_model.mlp_units": 64,
            "wm_train.overshoot": 4}
    trainer = WorldModelTrainer(_cfg(sim_dataset[0], "state", **over), tmp_path, progress=False)
    wm = trainer.model
    obs = _obs(wm.cfg, 2, 8)
    first = torch.zeros(2, 8, dtype=torch.bool)
    first[:, 0] = True
    _, feat, dists = wm.observe(wm.initial(2), obs, torch.randn(2, 8, 7), first)
    term, metrics = wm.overshooting(feat, dists["post"], obs, torch.randn(2, 8, 7), first, 4)
    term.backward()
    assert wm.rssm.gru.weight_hh.grad.abs().sum() > 0
    assert wm.rssm.prior_net[-1].weight.grad.abs().sum() > 0
    assert metrics["overshoot_kl"] > 0 and metrics["overshoot_nll"] > 0
    trainer.fit(5)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {"overshoot_kl", "overshoot_nll"} <= set(lines[0])


def test_gumbel_draws_follow_the_probabilities_and_repeat_with_the_same_noise():
    """RSSM.sample with caller-drawn Gumbel noise (common random numbers): each class at its
    probability, never one of probability 0; the same noise gives the same draw; the sample
    stays straight-through (its gradient is the probabilities')."""
    cfg = load_config("debug").world_model
    rssm = WorldModel(cfg).rssm
    probs = torch.full((cfg.stoch, cfg.classes), 1e-12)
    probs[:, 0], probs[:, 1], probs[:, 2] = 0.2, 0.5, 0.3
    logits = probs.log().expand(40_000, -1, -1).clone().requires_grad_(True)
    torch.manual_seed(0)
    noise = rssm.gumbel_noise(40_000)
    z = rssm.sample(logits, noise).view(40_000, cfg.stoch, cfg.classes)
    freq = z.detach().mean(0)
    assert torch.allclose(freq[:, :3], probs[:, :3], atol=0.01)
    assert freq[:, 3:].sum() == 0
    assert torch.equal(rssm.sample(logits, noise), rssm.sample(logits, noise))
    other = rssm.gumbel_noise(40_000)
    assert not torch.equal(rssm.sample(logits, noise), rssm.sample(logits, other))
    z[:, 0, 1].sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_decoder_first_layer_as_a_matrix_product_is_the_transposed_convolution():
    """ConvDecoder computes its first transposed convolution (on a 1 x 1 map) as a matrix
    product: the same function of the same parameters as running the whole nn.Sequential,
    values and gradients; and the fused pixel normalisation equals (x / 255 - 0.5) / 0.5."""
    from lumos_core.world_model import ConvDecoder

    torch.manual_seed(0)
    dec = ConvDecoder(4)
    x = torch.randn(6, 32 * 4, requires_grad=True)
    fast = dec(x)
    dec.matmul_first = False
    reference = dec(x)
    dec.matmul_first = True
    assert fast.shape == reference.shape == (6, 3, 64, 64)
    assert torch.allclose(fast, reference, atol=1e-5)
    g_fast = torch.autograd.grad(fast.square().sum(), [x, dec.net[0].weight])
    g_ref = torch.autograd.grad(reference.square().sum(), [x, dec.net[0].weight])
    for a, b in zip(g_fast, g_ref):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)
    image = torch.randint(0, 256, (2, 5, 64, 64, 3), dtype=torch.uint8)
    old = (image.float() / 255.0 - 0.5).div(0.5).movedim(-1, -3)
    assert torch.allclose(WorldModel.image_targets(image), old, atol=1e-6)


@pytest.mark.parametrize("preset", ["debug", "state"])
def test_loss_metrics_as_tensors_match_the_floats(preset):
    """``loss(item=False)`` (what the captured CUDA step returns: nothing waits for the
    device) gives the same loss and metrics, as detached 0-d tensors, as the float metrics."""
    from conftest import random_wm_batch

    cfg = load_config(preset, ["wm_train.overshoot=2"] if preset == "state" else [])
    model = WorldModel(cfg.world_model)
    batch = random_wm_batch(cfg, 2, 6)
    torch.manual_seed(3)
    loss, floats, _ = model.loss(*batch, overshoot=cfg.wm_train.overshoot)
    torch.manual_seed(3)
    loss_t, tensors, _ = model.loss(*batch, overshoot=cfg.wm_train.overshoot, item=False)
    assert set(floats) == set(tensors) and "loss" in floats
    assert all(isinstance(v, float) for v in floats.values())
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad
               for v in tensors.values())
    assert loss_t.item() == loss.item()
    assert {k: v.item() for k, v in tensors.items()} == pytest.approx(floats, rel=1e-6)
    if preset == "state":
        assert "overshoot_kl" in floats and "overshoot_nll" in floats
