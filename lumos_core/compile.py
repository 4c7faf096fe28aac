"""``torch.compile`` for the training step's hot modules, with a clean fallback.

``wm_train.compile`` and ``agent_train.compile`` pick it: ``always`` compiles on any device;
``auto`` and ``never`` do not. ``auto`` compiled on CUDA until it was measured there: on an
H200 the compiled world-model step ran at 0.57x and the compiled agent update at 0.78x the
speed of the eager bf16 paths (docs/performance.md, "Session 21"); ``auto`` never compiled on
a CPU, where it was slower too. On a GPU the step is bound by kernel launches, which a CUDA
graph removes (``wm_train.cuda_graph``, lumos_core/cuda_graph.py) and per-module compiling
does not. Where compiling is not possible -- dynamo unsupported on this Python, no Triton for
a GPU, no C++ compiler for the CPU backend -- ``always`` warns with the reason and runs
eagerly; an error while compiling a graph also falls back to eager for that graph
(``torch._dynamo.config.suppress_errors``) instead of stopping a training.

World-model modules are compiled in place (their ``forward``, :func:`compile_modules`), so
parameters, state_dict keys and checkpoints are exactly those of the eager model: a checkpoint
written by a compiled training loads anywhere. There the sampling of the categorical latents
and the Python loop over time stay eager (the loop calls the compiled cells once per step).
The agent's loss is compiled whole instead (:func:`compiled_function`, session 28): its
imagination loop unrolled into one graph (session 29: with no break -- the alignment loss
masks its pairs under compile instead of indexing them, so batches with any number of language
windows share the graph), which the per-module compile (slower on every device) could not
fuse across. On a CPU that makes the presets' default update (31-step imagination with the
critic) 1.2-1.36x faster than eager bf16 and the `state` trainer 1.21x once compiled (~3 min
of compiling with a cold cache: it breaks even after ~2 900 batches), but the `long` recipe's
(8-step, mostly BC) update is no faster and its BC warm-up 0.90x (docs/performance.md,
"Session 28" to "Session 30"). So ``auto`` compiles the agent loss where that was measured
to pay, and nowhere else (:func:`agent_compile_pays`, session 30): on a CPU, for an imagining
LUMOS agent whose every batch imagines at least ``AUTO_MIN_HORIZON`` steps, for at least
``AUTO_MIN_BATCHES`` batches. The world model's ``auto`` still compiles nowhere.
"""

from __future__ import annotations

import shutil
import warnings

import torch
from torch import nn

COMPILE_MODES = ("auto", "always", "never")

#: the backend; tests use ``aot_eager`` (traces and differentiates like inductor, generates no
#: code) so that the path is exercised in seconds
BACKEND = "inductor"


def compile_unavailable(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot run on ``device`` here, or None when it can."""
    try:
        import torch._dynamo as dynamo
    except ImportError as exc:   # pragma: no cover - every supported torch has it
        return f"torch._dynamo cannot be imported ({exc})"
    if not dynamo.is_dynamo_supported():
        return "torch.compile does not support this Python version"
    if BACKEND != "inductor":
        return None
    if device.type == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return "Triton is not installed (the GPU code generator of torch.compile)"
        return None
    if device.type == "cpu":
        try:   # the compiler(s) inductor is configured with, e.g. (None, "g++")
            from torch._inductor import config as inductor_config

            configured = inductor_config.cpp.cxx
        except (ImportError, AttributeError):
            configured = ()
        names = configured if isinstance(configured, tuple) else (configured,)
        if not any(shutil.which(c) for c in (*names, "g++", "c++", "clang++") if c):
            return "no C++ compiler found (g++, c++ or clang++: the CPU code generator's)"
        return None
    return f"torch.compile is not set up for device type {device.type!r} here"


#: ``auto`` compiles the agent loss only for imaginations at least this long: measured faster
#: compiled at the presets' 32-step horizon, level at the `long` recipe's 8 steps (session 28)
AUTO_MIN_HORIZON = 16
#: ... and only for trainings of at least this many imagining batches: the `state` trainer
#: compiled (1.21x eager, both run at once; 181 s of compiling with a cold cache) breaks even
#: after ~2 900 batches (session 30); at 4 000 it is ~1.05x, at the preset's 5 000 ~1.08x
AUTO_MIN_BATCHES = 4000


def agent_compile_pays(agent, batches: int, device: torch.device,
                       max_minutes: float | None = None) -> str | None:
    """Why ``agent_train.compile=auto`` compiles an agent training of ``batches`` more batches
    with the ``agent`` section (:class:`~lumos_core.config.AgentConfig`) on ``device``, or None
    where compiling was not measured to pay (module docstring): a CPU, an imagining LUMOS agent
    (DITTO on) with no BC warm-up (the warm-up's BC update was slower compiled), a horizon of at
    least ``AUTO_MIN_HORIZON`` and at least ``AUTO_MIN_BATCHES`` batches (a time budget
    ``max_minutes`` under 30 minutes counts as too short: the compiling alone takes ~3)."""
    if device.type != "cpu":
        return None        # the whole-loss compile is not measured on a GPU yet
    if not agent.imagines or agent.bc_warmup > 0:
        return None
    if agent.horizon < AUTO_MIN_HORIZON or batches < AUTO_MIN_BATCHES:
        return None
    if max_minutes is not None and max_minutes < 30:
        return None
    return (f"{batches} batches of {agent.horizon}-step imagination on a CPU (compiled ~1.2x "
            "the eager trainer after ~3 min of compiling; agent_train.compile=never to skip)")


def wants_compile(mode: str, device: torch.device, what: str = "training",
                  auto: bool = False) -> bool:
    """Whether to compile for ``mode`` on ``device``. ``auto`` compiles only where the caller
    found that it pays (``auto=True``, e.g. :func:`agent_compile_pays`); ``always`` where
    compiling is impossible warns (naming the reason) and returns False, ``auto`` then runs
    eagerly without a warning."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile must be one of {', '.join(COMPILE_MODES)}, got {mode!r}")
    if mode == "never" or (mode == "auto" and not auto):
        return False
    reason = compile_unavailable(device)
    if reason is not None:
        if mode == "always":
            warnings.warn(f"{what}: torch.compile unavailable, running eagerly: {reason}",
                          RuntimeWarning, stacklevel=2)
        return False
    return True


#: compiled graphs kept per code object: every compiled module runs through the same wrapper
#: (:func:`compiled`), so dynamo's default of 8 would send the ninth module and beyond back to
#: eager without a word (a vision world model compiles 11 modules, each in training and eval)
RECOMPILE_LIMIT = 64


def _configure() -> None:
    import torch._dynamo

    config = torch._dynamo.config
    config.suppress_errors = True
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(config, name):
            setattr(config, name, max(getattr(config, name), RECOMPILE_LIMIT))


def compiled(module: nn.Module):
    """``module``'s forward, compiled: a function that shares the module's parameters and is
    registered nowhere (state_dict keys unchanged). Dynamo traces the wrapper defined here
    (it does not trace ``nn.Module.__call__`` as a top frame, which is why
    ``nn.Module.compile()`` compiled nothing on torch 2.13: measured with a counting backend)."""
    _configure()
    eager = module.forward

    def forward(*args, **kwargs):
        return eager(*args, **kwargs)

    return torch.compile(forward, backend=BACKEND)


def compiled_function(fn):
    """``fn`` compiled whole, e.g. the agent's loss with its imagination loop unrolled
    (:meth:`~lumos_core.agent.LumosAgent.loss_terms`): static shapes (a training's batches
    have one shape), one graph between the points where ``fn`` reads a tensor's value (which
    run eagerly), random draws made by the eager kernels (``fallback_random``: the same stream
    as an eager run's, so the paths stay comparable draw for draw). The module's parameters
    are read, not copied: state_dict and checkpoints are the eager ones."""
    _configure()
    from torch._inductor import config as inductor_config

    inductor_config.fallback_random = True
    return torch.compile(fn, backend=BACKEND, dynamic=False)


def compile_modules(modules: list[nn.Module]) -> int:
    """Compile each module in place: its ``forward`` becomes :func:`compiled`'s function (an
    instance attribute: the same parameters and state_dict keys; compile after any
    ``copy.deepcopy``, which would copy the attribute pointing at the original). Returns how
    many. A graph that fails to compile runs eagerly instead (with dynamo's warning)."""
    for module in modules:
        module.forward = compiled(module)
    return len(modules)


def world_model_hot_modules(model: nn.Module) -> list[nn.Module]:
    """The modules of a :class:`~lumos_core.world_model.WorldModel` a training step spends its
    time in: the cameras' encoders and decoders (or the state MLPs), the fusion layers, and the
    recurrent cell's pieces called once per time step."""
    names = ("fuse", "dec_in", "state_encoder", "state_decoder")
    mods = [getattr(model, n) for n in names if isinstance(getattr(model, n, None), nn.Module)]
    for group in ("encoders", "decoders"):
        mods += list(getattr(model, group, {}).values())
    rssm = model.rssm
    mods += [rssm.in_norm, rssm.gru, rssm.prior_net, rssm.post_h, rssm.post_out]
    return mods
