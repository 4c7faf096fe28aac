"""bf16 autocast: when it is chosen, and that it computes the same world-model loss and
gradients as fp32 within stated tolerances (the speed is a benchmark, docs/performance.md)."""

import pytest
import torch
from conftest import random_agent_batch, random_wm_batch

from lumos_core.config import load_config
from lumos_core.precision import autocast_dtype, cpu_has_native_bf16

CPU = torch.device("cpu")

#: bf16 keeps 8 significant bits: the loss of one random batch agrees to this relative error,
#: the flattened gradient to this cosine similarity (measured on this batch: 0.0002 % / 0.004 %
#: and 1.00000 / 0.99999 for vision / state)
LOSS_RTOL = 0.01
GRAD_COSINE = 0.99
#: the agent's policy and critic losses (imagination compounds the rounding over 8 steps here)
AGENT_RTOL = 0.02


def test_auto_chooses_bf16_only_where_it_pays():
    assert autocast_dtype("auto", CPU, "state") is None          # 2 mm state resolution
    assert autocast_dtype("auto", CPU, "vision") == (torch.bfloat16 if cpu_has_native_bf16()
                                                     else None)
    assert autocast_dtype("fp32", CPU, "vision") is None
    assert autocast_dtype("bf16", CPU, "state") == torch.bfloat16  # explicit: as asked
    assert autocast_dtype("auto", CPU, "agent") == (torch.bfloat16 if cpu_has_native_bf16()
                                                    else None)
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        autocast_dtype("fp16", CPU, "vision")
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast_dtype("half", CPU, "vision")


def test_auto_on_a_gpu_follows_the_h200_measurement(monkeypatch):
    """On CUDA: vision world models in bf16 (fp16 where the GPU has no bf16), the agent in
    fp32 (its launch-bound update ran 0.86x in bf16 on an H200), state world models fp32."""
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert autocast_dtype("auto", cuda, "vision") == torch.bfloat16
    assert autocast_dtype("auto", cuda, "agent") is None
    assert autocast_dtype("auto", cuda, "state") is None
    assert autocast_dtype("bf16", cuda, "agent") == torch.bfloat16   # explicit: as asked
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert autocast_dtype("auto", cuda, "vision") == torch.float16
    assert autocast_dtype("auto", cuda, "agent") is None


def test_precision_is_a_validated_config_key():
    from lumos_core.config import ConfigError, LumosConfig

    assert load_config("cpu").wm_train.precision == "auto"
    with pytest.raises(ConfigError, match="precision"):
        load_config("cpu", ["wm_train.precision=half"])
    # a config stored before the key existed (with the retired `amp`) still loads
    stored = load_config("cpu").to_dict()
    stored["wm_train"].pop("precision")
    stored["wm_train"]["amp"] = True
    assert LumosConfig.from_stored(stored).wm_train.precision == "auto"


@pytest.mark.parametrize("obs_mode", ["vision", "state"])
def test_bf16_loss_and_gradients_match_fp32(obs_mode):
    from lumos_core.world_model import WorldModel

    cfg = load_config("debug", [f"world_model.obs_mode={obs_mode}",
                                "world_model.use_proprio=false"])
    torch.manual_seed(0)
    model = WorldModel(cfg.world_model)
    obs, prev, first = random_wm_batch(cfg, 4, 8)
    results = []
    for dtype in (None, torch.bfloat16):
        torch.manual_seed(1)                       # the same z samples for both
        model.zero_grad()
        with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            loss, _, _ = model.loss(obs, prev, first)
        loss.backward()
        grad = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        results.append((loss.item(), grad))
    (loss32, g32), (loss16, g16) = results
    assert abs(loss16 - loss32) <= LOSS_RTOL * abs(loss32), (loss32, loss16)
    assert torch.nn.functional.cosine_similarity(g32, g16, dim=0) >= GRAD_COSINE


@pytest.mark.parametrize("bc_only", [True, False])
def test_bf16_agent_losses_match_fp32(bc_only, monkeypatch):
    """The agent's update under bf16 autocast: behaviour cloning (with plans and alignment)
    and the imagined actor-critic losses agree with fp32 on the same batch and draws. The
    categorical draws (z, plans) take each variable's most likely class here: a random draw
    flips where bf16 moves a probability across the uniform number, after which the two
    rollouts are different samples, not different arithmetic. For the same reason the
    imagined gripper is continuous here: binarised, it flips wherever bf16 moves the actor's
    gripper mean across 0."""
    import lumos_core.agent
    import lumos_core.world_model
    from lumos_core.agent import LumosAgent
    from lumos_core.world_model import WorldModel

    for module in (lumos_core.agent, lumos_core.world_model):
        monkeypatch.setattr(module, "categorical_sample", lambda probs: probs.argmax(-1))

    cfg = load_config("debug", ["agent.imagine_gripper=continuous"])
    torch.manual_seed(0)
    agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
    batch = random_agent_batch(cfg, 8)
    out = []
    for dtype in (None, torch.bfloat16):
        torch.manual_seed(2)
        with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            policy, critic, _ = agent.losses(batch, bc_only=bc_only)
        out.append((policy.item(), None if critic is None else critic.item()))
    (p32, c32), (p16, c16) = out
    assert abs(p16 - p32) <= AGENT_RTOL * abs(p32) + 1e-3, (p32, p16)
    if c32 is not None:
        assert abs(c16 - c32) <= AGENT_RTOL * abs(c32) + 1e-3, (c32, c16)


def test_compare_eager_benchmarks_report_both_paths():
    """`lumos benchmark world-model|policy --compare-eager` on the debug preset: both paths,
    a ratio, FLOPs and a peak fraction (figures only; no timing is asserted)."""
    from lumos_core.benchmarks import policy, world_model

    row = world_model.compare("debug", steps=1)
    assert list(row["variants"])[0] == "fp32" and len(row["variants"]) == 2
    assert row["flops_per_step"] > 0 and row["ratio"] > 0 and row["top_ops"]
    assert all(0 < v["peak_fraction"] for v in row["variants"].values())
    assert "| debug | cpu | 1 | 2x8 | fp32 |" in world_model.compare_table([row])
    row = policy.compare_update("debug", updates=1)
    # the fp32 row is "fp32", or "fp32 (default)" on a CPU without native bf16
    table = policy.compare_table([row])
    assert row["ratio"] > 0 and any(f"| debug | cpu | 1 | 8 | {name} |" in table
                                    for name in ("fp32", "fp32 (default)"))
    # the agent update likewise: FLOPs of one update and each path's fraction of its peak
    assert row["flops_per_update"] > 0
    assert all(0 < v["peak_fraction"] for v in row["variants"].values())
    assert [v["dtype"] for v in row["variants"].values()] == ["fp32", "bf16"]


def test_compare_eager_curve_trains_every_path_alike():
    """``--curve N``: every path trains N more steps on the same batches; fp32 and bf16 reach
    the same loss within 1 % on the debug preset (a short training with each path)."""
    from lumos_core.benchmarks import world_model

    row = world_model.compare("debug", steps=1, profile=False, curve=6)
    losses = [v["curve_loss"] for v in row["variants"].values()]
    assert len(losses) == 2 and abs(losses[0] - losses[1]) <= 0.01 * abs(losses[0])
    assert "loss after 6 more steps (mean of the last 10)" in world_model.compare_table([row])


def test_policy_benchmark_device_only_with_compare_eager():
    """`lumos benchmark policy --device cuda` times the update there; the control-step
    latency (without --compare-eager) is the robot CPU's, so another device is refused."""
    import argparse

    from lumos_core.benchmarks import policy

    args = argparse.Namespace(compare_eager=False, device="cuda", presets=["debug"], threads=1,
                              updates=1, compile=False)
    with pytest.raises(SystemExit, match="--device is for --compare-eager"):
        policy.main(args)


def test_compare_eager_reports_each_paths_peak_memory(capsys):
    """The comparison measures each path's peak memory in a process of its own (one process
    ran both timed paths, so its peak was the larger of the two)."""
    from lumos_core.cli import main

    assert main(["benchmark", "world-model", "--compare-eager", "--presets", "debug",
                 "--train-steps", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| debug")]
    assert len(rows) == 2
    for line in rows:
        peak = line.rstrip(" |").rsplit("|", 1)[1].strip()
        assert float(peak) > 0, line
    # the agent update's table: the peak-memory column before the first losses
    assert main(["benchmark", "policy", "--compare-eager", "--presets", "debug",
                 "--updates", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| debug")]
    assert len(rows) == 2
    for line in rows:
        peak = line.rstrip(" |").split("|")[-2].strip()
        assert float(peak) > 0, line


def test_peak_memory_counts_only_what_runs_after_the_reset():
    """The agent update's peak memory is measured after a reset of the process's peak (a
    CLI's imports had made every path's figure the same 987 MB): memory freed before the
    reset does not count, memory taken after it does."""
    import sys

    from lumos_core.benchmarks.timing import peak_rss_mb, reset_peak_rss

    big = torch.ones(64 * 2 ** 20 // 4)         # 64 MB, touched
    del big
    with_big = peak_rss_mb()
    if not sys.platform.startswith("linux") or not reset_peak_rss():
        pytest.skip("no resettable peak resident set here")
    before = peak_rss_mb()
    assert before < with_big - 48                 # the freed 64 MB no longer count
    more = torch.ones(64 * 2 ** 20 // 4)
    assert peak_rss_mb() - before > 48            # what runs after the reset does
    del more


def test_world_model_peak_memory_counts_only_its_own_steps():
    """The world model's peak memory was the process's lifetime peak (what the imports and
    the caller reached before counted too); it is now measured from a reset before the
    model's steps, as the agent update's is."""
    import sys

    from lumos_core.benchmarks.timing import peak_rss_mb, reset_peak_rss
    from lumos_core.benchmarks.world_model import measure

    if not sys.platform.startswith("linux") or not reset_peak_rss():
        pytest.skip("no resettable peak resident set here")
    threads = torch.get_num_threads()
    big = torch.ones(512 * 2 ** 20 // 4)         # 512 MB, touched, then freed
    del big
    with_big = peak_rss_mb()
    try:
        row = measure("debug", train_steps=1, latency_steps=1)
    finally:
        torch.set_num_threads(threads)
    assert 0 < row["peak_mb"] < with_big - 256
