"""The captured training step (lumos_core/cuda_graph.py): when it is used, that its warm-up
leaves no trace (parameters and optimiser state restored, fresh or resumed), and that a
captured training follows the eager update rule. The capture itself needs a GPU; here
torch.cuda's graph, stream and replay are stood in by fakes that run the recorded body, so
that everything CapturedStep itself does is exercised (the GPU run: docs/performance.md,
"Session 21")."""

from __future__ import annotations

import contextlib

import pytest
import torch

from lumos_core.config import ConfigError, load_config
from lumos_core.cuda_graph import CapturedStep, graph_unavailable, wants_graph

CUDA = torch.device("cuda")


def test_where_the_step_is_captured():
    assert graph_unavailable(torch.device("cpu")) == "CUDA graphs need a CUDA device"
    assert graph_unavailable(CUDA) is None
    assert graph_unavailable(CUDA, dtype=torch.bfloat16) is None
    assert "fp16" in graph_unavailable(CUDA, dtype=torch.float16)
    assert "distributed" in graph_unavailable(CUDA, distributed=True)
    assert "compile" in graph_unavailable(CUDA, compiled=True)
    assert wants_graph("auto", CUDA) and not wants_graph("never", CUDA)
    assert not wants_graph("auto", torch.device("cpu"))
    with pytest.raises(ValueError, match="cuda_graph must be one of auto, never"):
        wants_graph("always", CUDA)
    with pytest.raises(ConfigError, match="cuda_graph"):
        load_config("debug", ["wm_train.cuda_graph=yes"])
    assert load_config("paper").wm_train.cuda_graph == "auto"


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch.cuda's capture API on a CPU: capture runs the body (the real one records it
    without running it: the warm-up undo covers both), replay re-runs it into the captured
    outputs with fresh gradients (a captured backward writes them, it does not add)."""
    class Stream:
        def wait_stream(self, other):
            pass

    class Graph:
        step = None

        def replay(self):
            step = Graph.step
            step.optimizer.zero_grad(set_to_none=True)
            for key, value in step.body(*step.static).items():
                step.outputs[key].copy_(value)

    monkeypatch.setattr(torch.cuda, "Stream", Stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda: Stream())
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "graph", lambda g: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
    return Graph


def _setup(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)

    def body(batch: dict, target: torch.Tensor) -> dict:
        loss = (model(batch["x"]) - target).pow(2).mean()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return {"loss": loss.detach(), "grad_norm": norm.detach()}
    return model, opt, body


def _batches(n):
    g = torch.Generator().manual_seed(1)
    return [({"x": torch.randn(5, 4, generator=g)}, torch.randn(5, 2, generator=g))
            for _ in range(n)]


def _eager(model, opt, body, batches):
    losses = []
    for batch in batches:
        opt.zero_grad(set_to_none=True)
        losses.append(body(*batch)["loss"].item())
    return losses


@pytest.mark.parametrize("resumed", [False, True])
def test_captured_training_follows_the_eager_one(fake_cuda, resumed):
    """From a fresh optimiser and from one with state (a resumed run), the captured step's
    warm-up and capture are undone: four captured steps give the eager steps' losses and
    parameters exactly."""
    batches = _batches(6)
    ref_model, ref_opt, ref_body = _setup()
    model, opt, body = _setup()
    if resumed:
        _eager(ref_model, ref_opt, ref_body, batches[:2])
        _eager(model, opt, body, batches[:2])
    expected = _eager(ref_model, ref_opt, ref_body, batches[2:])
    step = fake_cuda.step = CapturedStep(body, list(model.parameters()), opt)
    got = [step(*batch)["loss"].item() for batch in batches[2:]]
    assert got == pytest.approx(expected, rel=1e-6)
    for a, b in zip(model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(a, b)
    for p, q in zip(model.parameters(), ref_model.parameters()):
        for key in ref_opt.state[q]:
            torch.testing.assert_close(opt.state[p][key], ref_opt.state[q][key],
                                       check_device=False)


def test_captured_step_refuses_what_it_cannot_replay(fake_cuda):
    model, opt, body = _setup()
    step = fake_cuda.step = CapturedStep(body, list(model.parameters()), opt)
    batch = _batches(1)[0]
    step(*batch)
    with pytest.raises(ValueError, match=r"inputs\[0\]\['x'\] must keep the captured shape"):
        step({"x": torch.zeros(6, 4)}, batch[1])
    with pytest.raises(ValueError, match="must have the keys"):
        step({"y": batch[0]["x"]}, batch[1])
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="SGD cannot be captured"):
        CapturedStep(body, list(model.parameters()), sgd)(*batch)


def test_the_trainer_captures_only_on_cuda(sim_dataset, tmp_path):
    """On a CPU the trainer runs its update eagerly (the same ``wm_update`` the capture
    records), and reports float metrics."""
    from lumos_core.train_wm import WorldModelTrainer

    cfg = load_config("debug", [f"data.dataset={sim_dataset[0]}"])
    trainer = WorldModelTrainer(cfg, tmp_path / "run", device="cpu", progress=False)
    assert trainer.captured is None
    metrics = trainer.train_step()
    assert isinstance(metrics["loss"], float) and isinstance(metrics["grad_norm"], float)


def test_a_failed_capture_warns_and_trains_eagerly(fake_cuda, monkeypatch):
    """A capture the device refuses (here: the graph context raises as CUDA does for an
    operation that waits inside a capture) leaves no trace of its warm-up: the step warns with
    the reason and trains exactly as the eager one."""
    @contextlib.contextmanager
    def refusing(graph):
        yield
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing\nmore")

    monkeypatch.setattr(torch.cuda, "graph", refusing)
    batches = _batches(3)
    ref_model, ref_opt, ref_body = _setup()
    expected = _eager(ref_model, ref_opt, ref_body, batches)
    model, opt, body = _setup()
    step = fake_cuda.step = CapturedStep(body, list(model.parameters()), opt)
    assert not step.eager
    with pytest.warns(RuntimeWarning, match="not captured as a CUDA graph, running eagerly: "
                                            "CUDA error: operation not permitted"):
        got = [step(*batch)["loss"].item() for batch in batches]
    assert step.not_captured.startswith("CUDA error") and step.graph is None and step.eager
    assert got == pytest.approx(expected, rel=1e-6)
    for a, b in zip(model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(a, b)


def test_a_captured_runs_optimiser_state_resumes_on_a_cpu():
    """A GPU run's AdamW state says ``capturable``; resumed on a CPU (``load_optimizer``)
    it steps there (a capturable AdamW refuses CPU parameters)."""
    from lumos_core.runs import load_optimizer

    model, opt, body = _setup()
    batch = _batches(1)[0]
    body(*batch)
    saved = opt.state_dict()
    saved["param_groups"][0]["capturable"] = True          # as a captured GPU run saves it
    model2, opt2, body2 = _setup()
    load_optimizer(opt2, saved, lr=1e-3)
    assert opt2.param_groups[0]["capturable"] is False and opt2.param_groups[0]["lr"] == 1e-3
    opt2.zero_grad(set_to_none=True)
    assert torch.isfinite(body2(*batch)["loss"])
