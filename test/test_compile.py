"""torch.compile of the training steps (lumos_core/compile.py): when it is chosen, that a
compiled model computes the same loss and gradients as the eager one with the same state_dict,
and that an impossible compile falls back to eager with a warning naming the reason.

The equivalence tests use the ``aot_eager`` backend: it traces the modules with dynamo and
differentiates them with AOTAutograd exactly as inductor does, but generates no C++ code, so
they run in seconds (inductor's generated kernels are checked by
``lumos benchmark world-model --compare-eager --compile``, which prints the losses side by side).
"""

import warnings

import pytest
import torch
from conftest import random_agent_batch, random_wm_batch

import lumos_core.compile as comp
from lumos_core.config import ConfigError, load_config

CPU = torch.device("cpu")
#: compiled and eager graphs run the same float32 ops, possibly reordered and fused
RTOL = 1e-5


@pytest.fixture
def aot_eager(monkeypatch):
    monkeypatch.setattr(comp, "BACKEND", "aot_eager")
    yield
    torch._dynamo.reset()


def test_auto_compiles_only_where_told_it_pays_and_modes_are_validated(monkeypatch):
    """``auto`` compiles only where the caller found that it pays (``auto=True``), and then
    silently runs eagerly where compiling is impossible; ``always`` compiles where possible."""
    monkeypatch.setattr(comp, "compile_unavailable", lambda device: None)
    assert not comp.wants_compile("auto", CPU)
    assert not comp.wants_compile("auto", torch.device("cuda"))
    assert comp.wants_compile("auto", CPU, auto=True)
    assert not comp.wants_compile("never", torch.device("cuda"), auto=True)
    assert comp.wants_compile("always", torch.device("cuda"))
    with pytest.raises(ValueError, match="compile must be one of"):
        comp.wants_compile("yes", CPU)
    with pytest.raises(ConfigError, match="compile"):
        load_config("debug", ["wm_train.compile=maybe"])
    assert load_config("debug").agent_train.compile == "auto"
    monkeypatch.setattr(comp, "compile_unavailable", lambda device: "no compiler")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not comp.wants_compile("auto", CPU, auto=True)


def test_auto_compiles_the_agent_loss_only_where_it_was_measured_to_pay():
    """The presets' default LUMOS training (32-step imagination in every batch, 5 000 batches)
    is compiled on a CPU; the `long` recipe (8 steps, a BC warm-up), the BC baselines, short
    trainings or time budgets and GPUs are not (docs/performance.md, sessions 28-30)."""
    state = load_config("state").agent
    assert state.horizon >= comp.AUTO_MIN_HORIZON and state.bc_warmup == 0
    steps = load_config("state").agent_train.steps
    assert "imagination on a CPU" in comp.agent_compile_pays(state, steps, CPU)
    assert comp.agent_compile_pays(load_config("cpu").agent, steps, CPU)
    assert comp.agent_compile_pays(state, steps, torch.device("cuda")) is None
    assert comp.agent_compile_pays(state, comp.AUTO_MIN_BATCHES - 1, CPU) is None
    assert comp.agent_compile_pays(state, steps, CPU, max_minutes=10) is None
    assert comp.agent_compile_pays(state, steps, CPU, max_minutes=60)
    from lumos_core.benchmarks.agents import LONG_RECIPE

    long = load_config("state", list(LONG_RECIPE)).agent
    assert comp.agent_compile_pays(long, 14232, CPU) is None
    for override in ("agent.method=gcbc", "agent.method=mcil", "agent.use_ditto=false",
                     "agent.horizon=8", "agent.bc_warmup=100"):
        agent = load_config("state", [override]).agent
        assert comp.agent_compile_pays(agent, steps, CPU) is None, override


def test_impossible_compile_falls_back_with_the_reason(monkeypatch):
    monkeypatch.setattr(comp.shutil, "which", lambda name: None)
    reason = comp.compile_unavailable(CPU)
    assert reason.startswith("no C++ compiler found")
    with pytest.warns(RuntimeWarning, match=r"running eagerly: no C\+\+ compiler found"):
        assert not comp.wants_compile("always", CPU, "world-model training")


def test_every_hot_module_is_compiled(monkeypatch):
    """Regression: ``nn.Module.compile()`` compiled nothing on torch 2.13 (dynamo does not
    trace ``Module.__call__`` as a top frame) and dynamo's default of 8 graphs per code object
    would send the ninth module back to eager silently. A counting backend sees more than 8
    graphs (11 modules; the two cameras' identical encoders and decoders share one graph each,
    the GRU cell makes two)."""
    from lumos_core.world_model import WorldModel

    graphs = []

    def counting(gm, inputs):
        graphs.append(gm)
        return gm.forward

    monkeypatch.setattr(comp, "BACKEND", counting)
    torch._dynamo.reset()
    cfg = load_config("debug")                     # vision: two encoders, two decoders
    model = WorldModel(cfg.world_model)
    modules = comp.world_model_hot_modules(model)
    assert comp.compile_modules(modules) == len(modules) > 8
    model.loss(*random_wm_batch(cfg, 2, 3))
    assert len(graphs) > 8, len(graphs)
    torch._dynamo.reset()


@pytest.mark.parametrize("obs_mode", ["vision", "state"])
def test_compiled_world_model_matches_eager(obs_mode, aot_eager):
    from lumos_core.world_model import WorldModel

    cfg = load_config("debug", [f"world_model.obs_mode={obs_mode}"])
    torch.manual_seed(0)
    eager = WorldModel(cfg.world_model)
    fast = WorldModel(cfg.world_model)
    fast.load_state_dict(eager.state_dict())
    assert comp.compile_modules(comp.world_model_hot_modules(fast)) >= 6
    assert list(fast.state_dict()) == list(eager.state_dict())     # checkpoints unchanged
    obs, prev, first = random_wm_batch(cfg, 3, 6)
    out = []
    for model in (eager, fast):
        torch.manual_seed(1)                       # the same z samples for both
        loss, _, _ = model.loss(obs, prev, first)
        loss.backward()
        out.append((loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()
                                            if p.grad is not None])))
    (l0, g0), (l1, g1) = out
    assert l1 == pytest.approx(l0, rel=RTOL)
    assert torch.allclose(g1, g0, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("mode", ["ditto", "bc_only", "critic_too"])
def test_compiled_agent_loss_matches_eager(aot_eager, mode):
    """The whole agent loss compiled (``agent_train.compile=always``: the imagination loop
    unrolled into one graph) gives the eager losses, metrics and gradients with the same
    draws, in each phase of a training (DITTO, the BC warm-up, the warm-up's critic batches)."""
    from lumos_core.agent import LumosAgent
    from lumos_core.world_model import WorldModel

    cfg = load_config("debug", ["agent.ditto_bc_scale=1.0", "agent.return_norm=percentile"])
    torch.manual_seed(0)
    agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
    batch = random_agent_batch(cfg, 6)
    flags = {"bc_only": mode != "ditto", "critic_too": mode == "critic_too"}
    out = []
    for fn in (agent.loss_terms, comp.compiled_function(agent.loss_terms)):
        agent.behaviour.return_scale.zero_()
        agent.zero_grad(set_to_none=True)
        torch.manual_seed(2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            policy, critic, metrics = fn(batch, **flags)
        losses = [policy] + ([] if critic is None else [critic])
        torch.autograd.backward(losses)
        grads = torch.cat([p.grad.flatten() for p in agent.behaviour.parameters()
                           if p.grad is not None])
        out.append(([v.item() for v in losses], {k: v.item() for k, v in metrics.items()},
                    grads))
    (eager, eager_metrics, eager_grad), (fast, fast_metrics, fast_grad) = out
    assert (mode == "bc_only") == (len(eager) == 1) and len(fast) == len(eager)
    assert fast == pytest.approx(eager, rel=RTOL, abs=1e-6)
    assert fast_metrics.keys() == eager_metrics.keys()
    assert list(fast_metrics.values()) == pytest.approx(list(eager_metrics.values()),
                                                        rel=RTOL, abs=1e-6)
    # (the compiled alignment loss masks the non-language pairs where eager indexes them
    # away: the same gradients up to the order of summation)
    assert torch.allclose(fast_grad, eager_grad, rtol=1e-3,
                          atol=1e-6 * eager_grad.abs().max().item())


def test_compiled_agent_loss_is_one_graph_whatever_the_language_windows(monkeypatch):
    """The alignment loss masks the batch's non-language pairs instead of indexing them away:
    the compiled loss is one graph with no break, and batches with other numbers of language
    windows (every batch of a training with image goals) reuse it instead of recompiling."""
    from torch._dynamo.testing import CompileCounterWithBackend

    from lumos_core.agent import LumosAgent
    from lumos_core.world_model import WorldModel

    counter = CompileCounterWithBackend("aot_eager")
    monkeypatch.setattr(comp, "BACKEND", counter)
    torch._dynamo.reset()
    try:
        cfg = load_config("debug", ["agent.align_mask_same_task=true"])
        torch.manual_seed(0)
        agent = LumosAgent(cfg.agent, WorldModel(cfg.world_model))
        loss = comp.compiled_function(agent.loss_terms)
        for language in (3, 5, 1, 0):
            batch = random_agent_batch(cfg, 6)
            batch["is_lang"] = batch["align"] = torch.arange(6) < language
            batch["task"] = torch.arange(6) % 4
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                policy, _, metrics = loss(batch, bc_only=True)
            assert torch.isfinite(policy) and "align" in metrics
        assert counter.frame_count == 1
    finally:
        torch._dynamo.reset()


def _default_and_compiled(variants: dict) -> tuple[dict, dict]:
    """The default path's row and the compiled one's, by name: which path is the default
    (and so which row comes first) depends on the machine (fp32 on a CPU without native
    bf16, as on a GPU for the agent)."""
    default = [v for name, v in variants.items() if name.endswith("(default)")]
    fast = [v for name, v in variants.items() if name.endswith("+ compile")]
    assert len(default) == 1 and len(fast) == 1, list(variants)
    return default[0], fast[0]


def test_compare_eager_benchmarks_add_the_compiled_path(aot_eager):
    """`lumos benchmark world-model|policy --compare-eager --compile`: a third row, whose loss
    on the first batch (same draws) equals the default path's (figures only; no timing is
    asserted)."""
    from lumos_core.benchmarks import policy, world_model

    row = world_model.compare("debug", steps=1, profile=False, compiled=True)
    default, fast = _default_and_compiled(row["variants"])
    assert len(row["variants"]) == 3 and fast["speedup"] > 0
    assert fast["first_loss"] == pytest.approx(default["first_loss"], rel=RTOL)
    assert "+ compile |" in world_model.compare_table([row])
    row = policy.compare_update("debug", updates=1, compiled=True)
    default, fast = _default_and_compiled(row["variants"])
    assert fast["policy_loss"] == pytest.approx(default["policy_loss"], rel=RTOL, abs=1e-6)
    assert "+ compile |" in policy.compare_table([row])
