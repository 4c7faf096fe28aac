"""The imagination API: shapes, determinism, the policy left untouched, and the oracle on
decoded states agreeing with the oracle on true states when the decoder is exact."""

import math

import numpy as np
import pytest
import torch

from lumos_core.config import CollectConfig, SimConfig
from lumos_core.data.calvin import canonical_robot_obs, canonical_scene_obs
from lumos_core.imagination import decoded_outcome, held_block, imagine, raw_scene


@pytest.fixture(scope="module")
def filtered(policy_checkpoint):
    from lumos_core.policy import LumosPolicy
    from lumos_core.sim.env import PlayTableEnv

    policy = LumosPolicy(policy_checkpoint)
    with PlayTableEnv(SimConfig(render=False)) as env:
        obs, _ = env.reset(seed=0)
    policy.reset()
    policy.filter(obs)
    return policy, obs


def test_shapes_and_determinism_under_a_seed(filtered):
    policy, obs = filtered
    goal = np.ones(384, np.float32) / np.sqrt(384)
    a = imagine(policy, goal, horizon=12, samples=3, seed=1)
    feat = policy.cfg.world_model.feat_dim
    assert a.latents.shape == (3, 13, feat) and a.actions.shape == (3, 12, 7)
    assert a.decoded["robot_obs"].shape == (3, 13, 15)
    assert a.decoded["scene_obs"].shape == (3, 13, 24)
    assert set(np.unique(a.actions[..., 6])) <= {-1.0, 1.0}
    assert (a.values is None) == (not policy.behaviour.imagines)
    b = imagine(policy, goal, horizon=12, samples=3, seed=1)
    assert np.array_equal(a.latents, b.latents) and np.array_equal(a.actions, b.actions)
    c = imagine(policy, goal, horizon=12, samples=3, seed=2)
    assert not np.array_equal(a.latents, c.latents)
    assert np.allclose(a.latents[:, 0], a.latents[0, 0])     # every sample starts at s_0
    probability = a.success_probability("open_drawer", obs["scene_obs"])
    assert 0.0 <= probability <= 1.0
    # decode='final': the same future, only its end decoded (the vision preview's need)
    final = imagine(policy, goal, horizon=12, samples=3, seed=1, decode="final")
    assert np.array_equal(final.latents, a.latents)
    for key in ("robot_obs", "scene_obs"):
        assert final.decoded[key].shape[1] == 1
        assert np.allclose(final.decoded[key][:, 0], a.decoded[key][:, -1], atol=1e-5)
    assert final.success_probability("open_drawer", obs["scene_obs"]) == probability
    assert imagine(policy, goal, horizon=2, samples=1, decode=False).decoded == {}
    with pytest.raises(ValueError, match="decode must be"):
        imagine(policy, goal, horizon=2, samples=1, decode="all")


def test_imagination_leaves_the_policy_as_it_was(filtered):
    policy, _ = filtered
    h, counter, steps = policy.state.h.clone(), policy.counter, policy.filter_steps
    rng = torch.get_rng_state()
    imagine(policy, np.ones(384, np.float32), horizon=5, samples=2)
    assert torch.equal(policy.state.h, h) and policy.counter == counter
    assert policy.filter_steps == steps and torch.equal(torch.get_rng_state(), rng)


def test_imagination_needs_a_filtered_state(policy_checkpoint):
    from lumos_core.policy import LumosPolicy

    with pytest.raises(ValueError, match="policy.filter"):
        imagine(LumosPolicy(policy_checkpoint), np.ones(384, np.float32))


def test_a_decoded_yaw_turn_reads_as_the_smallest_turn():
    start = np.zeros(24)
    start[11] = 3.0                                    # raw yaw near pi
    end = start.copy()
    end[11] = 3.0 + 1.1                                # turned left by 1.1 rad
    back = raw_scene(canonical_scene_obs(end), start)
    assert back[11] == pytest.approx(4.1, abs=1e-6)
    end[11] = 3.0 - 0.3
    assert raw_scene(canonical_scene_obs(end), start)[11] == pytest.approx(2.7, abs=1e-6)


def test_the_oracle_on_exactly_decoded_states_agrees_with_the_oracle():
    """With an exact decoder (the recorded true states in the models' canonical form), the
    predicted outcome of every recorded completion names its task."""
    from lumos_core.sim.env import PlayTableEnv
    from lumos_core.sim.play import PlayRecorder

    cfg = CollectConfig(pause_prob=0.0, free_motion_prob=0.0, home_prob=0.0)
    with PlayTableEnv(SimConfig(render=False)) as env:
        frames, events = PlayRecorder(env, cfg, np.random.default_rng(1)).episode(1500, 1)
    assert len(events) >= 8
    robot, scene = frames["robot_obs"], frames["scene_obs"]
    agree = 0
    for e in events:
        s, t = e["start"], e["end"] + 1          # the frame after the completing action
        t = min(t, len(scene) - 1)
        held = held_block(robot[s], scene[s])
        done = decoded_outcome(scene[s], canonical_scene_obs(scene[t]),
                               canonical_robot_obs(robot[t]), held)
        agree += e["task"] in done
    assert agree / len(events) >= 0.9, f"{agree}/{len(events)}"


def test_held_block_needs_a_partly_closed_gripper_at_the_block():
    robot = np.zeros(15)
    scene = np.zeros(24)
    scene[6:9] = [0.4, 0.1, 0.03]                      # red block
    robot[:3] = [0.4, 0.1, 0.035]
    robot[6], robot[14] = 0.05, -1.0
    assert held_block(robot, scene) == "red"
    robot[14] = 1.0                                    # just opened: released
    assert held_block(robot, scene) is None
    robot[14] = -1.0
    robot[6] = 0.0                                     # closed on nothing
    assert held_block(robot, scene) is None
    robot[6], robot[0] = 0.05, 0.5                     # 10 cm away
    assert held_block(robot, scene) is None
    assert math.isfinite(robot[6])


def test_imagine_command_dry_run_gif_and_calibration(policy_checkpoint, tmp_path, capsys):
    import json

    from PIL import Image

    from lumos_core.cli import main

    out = tmp_path / "dry"
    assert main(["imagine", str(policy_checkpoint), "--instruction", "slide the drawer open",
                 "--chain", "0", "--samples", "2", "--horizon", "8", "--steps", "12",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "imagined (2 futures of 8 steps" in text and "real:" in text
    report = json.loads((out / "dry_run.json").read_text())
    assert report["task"] == "open_drawer" and len(report["predicted_tasks"]) == 2
    gif = Image.open(out / "imagined_vs_real.gif")
    assert gif.n_frames >= 9 and gif.info["duration"] == 70
    assert main(["imagine", str(policy_checkpoint), "--calibrate", "2", "--samples", "2",
                 "--horizon", "6", "--steps", "10", "--out", str(tmp_path / "cal")]) == 0
    cal = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert cal["n"] == 2 and 0.0 <= cal["precision"] <= 1.0
    assert (tmp_path / "cal" / "reliability.png").exists()
    assert main(["imagine", str(policy_checkpoint)]) == 2


def test_imagination_benchmark_prints_latencies(capsys):
    from lumos_core.cli import main

    assert main(["benchmark", "imagination", "--presets", "debug", "--repeats", "2",
                 "--horizon", "5", "--samples", "2"]) == 0
    out = capsys.readouterr().out
    assert "| debug | vision | 5 x 2 | 1 |" in out


def test_the_latency_benchmark_reports_every_variant():
    """`lumos benchmark imagination`: latent-only, every step decoded, final step decoded
    (figures only; no timing is asserted)."""
    from lumos_core.benchmarks.imagination import measure, table

    row = measure("state", horizon=3, samples=2, repeats=2)
    for key in ("latent", "decoded", "final"):
        assert row[f"{key}_ms_median"] > 0 and row[f"{key}_ms_p95"] >= row[f"{key}_ms_median"]
    assert "| state | state | 3 x 2 | 1 |" in table([row])
