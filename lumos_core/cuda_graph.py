"""A whole training step captured once as a CUDA graph and replayed for every batch.

On a GPU the world model's training step is bound by launching kernels, not by computing them:
the filter runs the recurrent cell once per time step (50 steps of a dozen small kernels each,
forward and backward), so the `paper` preset at batch 50 x 50 spends about as long in fp32 as
in bf16 on an H200 (0.145 vs 0.141 s, 3 % of the bf16 matmul peak: docs/performance.md,
"Session 21"). A CUDA graph records the step's kernels -- forward, backward, gradient clipping
and the optimiser's update -- once, and replays them with one launch.

What capture needs, and :class:`CapturedStep` arranges: fixed shapes (one batch shape per
training run), inputs copied into fixed tensors, no wait for the device inside the step (the
world model's loss returns tensor metrics with ``item=False``), an optimiser whose state lives
on the device (``capturable=True``), autocast without its weight-cast cache, and gradients
allocated inside the capture. The warm-up steps that capture requires are undone afterwards
(parameters and optimiser state restored in place), so a captured training follows the same
update rule from the same state as an eager one; the random draws differ (the graph's
generator offsets are its own), so losses agree within noise, not bit for bit
(``lumos benchmark world-model --compare-eager --device cuda`` prints both paths' first loss).

A capture that fails anyway (an operation that waits for the device, a driver or PyTorch
version that refuses it) warns with the reason, undoes its warm-up and leaves the step eager.
Not captured (eager instead): fp16 with loss scaling (the scaler's overflow check waits for
the device), distributed training (the gradient all-reduce hooks), and a learning rate that
changes during training (a float learning rate is recorded into the graph; the trainers here
use a constant one).
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch

CUDA_GRAPH_MODES = ("auto", "never")

#: warm-up steps before capture (lazy initialisation: optimiser state, cuBLAS workspaces)
WARMUP = 3


def graph_unavailable(device: torch.device, *, distributed: bool = False,
                      dtype: torch.dtype | None = None, compiled: bool = False) -> str | None:
    """Why a training step on ``device`` cannot be captured, or None when it can."""
    if device.type != "cuda":
        return "CUDA graphs need a CUDA device"
    if distributed:
        return "distributed training (the all-reduce hooks) is not captured"
    if dtype == torch.float16:
        return "fp16 loss scaling waits for the device (use bf16 or fp32)"
    if compiled:
        return "torch.compile'd modules are not captured (compile: never, or cuda_graph: never)"
    return None


def wants_graph(mode: str, device: torch.device, **why) -> bool:
    """Whether ``mode`` (``auto``: wherever :func:`graph_unavailable` has no objection;
    ``never``) captures the step on ``device``."""
    if mode not in CUDA_GRAPH_MODES:
        raise ValueError(f"cuda_graph must be one of {', '.join(CUDA_GRAPH_MODES)}, got {mode!r}")
    return mode == "auto" and graph_unavailable(device, **why) is None


def _clone(tree):
    if isinstance(tree, torch.Tensor):
        return tree.clone()
    if isinstance(tree, dict):
        return {k: _clone(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_clone(v) for v in tree)
    return tree


def _copy_into(static, new, name: str = "inputs") -> None:
    """Copy ``new`` into the captured input tensors (same structure, shapes and dtypes)."""
    if isinstance(static, torch.Tensor):
        if not isinstance(new, torch.Tensor) or new.shape != static.shape:
            raise ValueError(f"captured training step: {name} must keep the captured shape "
                             f"{tuple(static.shape)}, got "
                             f"{tuple(new.shape) if isinstance(new, torch.Tensor) else new!r}")
        static.copy_(new, non_blocking=True)
    elif isinstance(static, dict):
        if set(static) != set(new):
            raise ValueError(f"captured training step: {name} must have the keys "
                             f"{sorted(static)}, got {sorted(new)}")
        for k in static:
            _copy_into(static[k], new[k], f"{name}[{k!r}]")
    else:
        for i, (s, n) in enumerate(zip(static, new)):
            _copy_into(s, n, f"{name}[{i}]")


class CapturedStep:
    """``body(*inputs)`` -- a whole training step that returns a dict of tensors and zeroes
    nothing itself -- captured on the first call and replayed on every later one.

    ``params`` and ``optimizer``: what the step updates (restored after the warm-up; load any
    optimiser state before the first call: the graph records the state tensors' addresses).
    Call it with inputs of the first call's structure and shapes; it returns the step's outputs
    (tensors the next call overwrites: read them before). Where the capture fails (an
    operation that waits for the device, a driver or version that refuses it) it warns with
    the reason, undoes the warm-up and runs the step eagerly from then on (``not_captured``
    holds the reason)."""

    def __init__(self, body: Callable[..., dict[str, torch.Tensor]],
                 params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer,
                 warmup: int = WARMUP) -> None:
        self.body, self.params, self.optimizer, self.warmup = body, list(params), optimizer, warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static = None
        self.outputs: dict[str, torch.Tensor] = {}
        self.not_captured: str | None = None

    @property
    def eager(self) -> bool:
        """The step runs eagerly (its capture failed), so what it calls may again use what a
        capture forbids (e.g. autocast's weight-cast cache, ``wm_update(cache=...)``)."""
        return self.not_captured is not None

    def _prepare_optimizer(self) -> dict:
        """Device-resident optimiser state (``capturable``) and a copy of it to restore."""
        for group in self.optimizer.param_groups:
            if "capturable" not in group:
                raise ValueError(f"{type(self.optimizer).__name__} cannot be captured (no "
                                 "'capturable' option); use Adam or AdamW")
            if any(p.is_cuda for p in group["params"]):   # a CUDA-only option
                group["capturable"] = True
        saved = {}
        for p in self.params:
            state = self.optimizer.state.get(p, {})
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.device != p.device:
                    state[key] = value = value.to(p.device)   # e.g. 'step' after a resume
            saved[p] = {k: v.clone() for k, v in state.items() if isinstance(v, torch.Tensor)}
        return saved

    def _restore(self, params: list[torch.Tensor], saved_state: dict) -> None:
        with torch.no_grad():
            for p, value in zip(self.params, params):
                p.copy_(value)
            for p in self.params:
                for key, value in self.optimizer.state.get(p, {}).items():
                    if isinstance(value, torch.Tensor):
                        before = saved_state.get(p, {}).get(key)
                        value.copy_(before) if before is not None else value.zero_()

    def capture(self, *inputs) -> None:
        """Warm up on a side stream, capture, then undo the warm-up's updates (also when the
        capture fails: then :attr:`not_captured` says why and the step runs eagerly)."""
        self.static = _clone(inputs)
        saved_state = self._prepare_optimizer()
        saved_params = [p.detach().clone() for p in self.params]
        try:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(self.warmup):
                    self.optimizer.zero_grad(set_to_none=True)
                    self.body(*self.static)
            torch.cuda.current_stream().wait_stream(stream)
            self.optimizer.zero_grad(set_to_none=True)   # gradients allocated inside the graph
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self.outputs = self.body(*self.static)
            self.graph = graph
        except RuntimeError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            self.not_captured = reason
            self.static = None
            warnings.warn(f"training step not captured as a CUDA graph, running eagerly: "
                          f"{reason}", RuntimeWarning, stacklevel=3)
        finally:
            self._restore(saved_params, saved_state)

    def __call__(self, *inputs) -> dict[str, torch.Tensor]:
        if self.graph is None and self.not_captured is None:
            self.capture(*inputs)
        if self.not_captured is not None:
            self.optimizer.zero_grad(set_to_none=True)
            return self.body(*inputs)
        _copy_into(self.static, inputs)
        self.graph.replay()
        return self.outputs
