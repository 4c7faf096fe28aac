"""Self-describing checkpoints: one directory per checkpoint.

```
<checkpoint>/
  model.safetensors     weights of every module, keys "<module>.<parameter>"
  meta.json             format version, kind, full config, normalisation statistics,
                        language model id, code version, sha256 + size of every file
  training_state.pt     optional: optimiser/scaler/RNG state and counters for --resume
```
Writes are atomic: everything goes to a temporary sibling directory that replaces the target
with a rename, so a crash leaves either the old or the new checkpoint, never half of one.
Loading checks every file against meta.json and fails with a :class:`CheckpointError` that
names the file and the problem.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

import lumos_core
from lumos_core.config import ConfigError, LumosConfig

FORMAT_VERSION = 1
KINDS = ("world_model", "agent", "policy")
WEIGHTS = "model.safetensors"
META = "meta.json"
TRAINING_STATE = "training_state.pt"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, damaged, of the wrong version or of the wrong kind."""


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    path: Path
    kind: str
    config: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    normalization: dict[str, Any] = field(default_factory=dict)
    language_model_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def modules(self) -> list[str]:
        """Names of the modules whose weights are stored."""
        return sorted({key.split(".", 1)[0] for key in self.tensors})

    def state_dict(self, module: str) -> dict[str, torch.Tensor]:
        """Weights of one module, keys without the module prefix."""
        prefix = module + "."
        state = {k[len(prefix):]: v for k, v in self.tensors.items() if k.startswith(prefix)}
        if not state:
            raise CheckpointError(f"{self.path / WEIGHTS}: no weights for module {module!r}; "
                                  f"stored modules: {', '.join(self.modules) or 'none'}")
        return state

    def lumos_config(self) -> LumosConfig:
        """The stored config as a validated :class:`LumosConfig`."""
        try:
            return LumosConfig.from_stored(self.config)
        except ConfigError as exc:
            raise CheckpointError(f"{self.path / META}: stored config is invalid: {exc}") from exc

    def training_state(self) -> dict[str, Any] | None:
        """Optimiser/RNG state for resuming, or None if the checkpoint has none."""
        file = self.path / TRAINING_STATE
        if TRAINING_STATE not in self.meta.get("files", {}):
            return None
        _verify_file(file, self.meta["files"][TRAINING_STATE])
        try:
            return torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many types for damaged files
            raise CheckpointError(f"{file}: cannot read training state: {exc}") from exc


def code_version() -> str:
    """Package version plus the git commit of the source tree when there is one."""
    version = lumos_core.__version__
    source = Path(lumos_core.__file__).resolve().parent.parent
    if (source / ".git").exists():
        try:
            out = subprocess.run(["git", "-C", str(source), "describe", "--always", "--dirty"],
                                 capture_output=True, text=True, timeout=5, check=True)
            version += "+" + out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return version


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_write(file: Path, data: bytes) -> None:
    with open(file, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _flatten(modules: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    tensors = {}
    for name, module in modules.items():
        if "." in name or not name:
            raise ValueError(f"module name {name!r} must be non-empty and contain no '.'")
        state = module.state_dict() if isinstance(module, torch.nn.Module) else module
        for key, value in state.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"{name}.{key} is a {type(value).__name__}, not a tensor")
            # safetensors refuses shared storage; store independent contiguous copies.
            tensors[f"{name}.{key}"] = value.detach().to("cpu").contiguous().clone()
    return tensors


def save_checkpoint(path: str | Path, *, kind: str, modules: Mapping[str, Any],
                    config: LumosConfig | Mapping[str, Any],
                    normalization: Mapping[str, Any] | None = None,
                    language_model_id: str | None = None,
                    extra: Mapping[str, Any] | None = None,
                    training_state: Mapping[str, Any] | None = None) -> Path:
    """Write a checkpoint directory atomically and return its path.

    ``modules`` maps a module name to an ``nn.Module`` or a state dict. ``normalization`` and
    ``extra`` must be JSON-serialisable (lists, numbers, strings).
    """
    from safetensors.torch import save_file

    if kind not in KINDS:
        raise ValueError(f"checkpoint kind {kind!r} is not one of {', '.join(KINDS)}")
    path = Path(path)
    if path.exists() and not (path / META).is_file():
        raise CheckpointError(f"{path} exists and is not a checkpoint; refusing to overwrite it")
    config_dict = config.to_dict() if isinstance(config, LumosConfig) else dict(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        save_file(_flatten(modules), str(tmp / WEIGHTS), metadata={"kind": kind})
        files = [WEIGHTS]
        if training_state is not None:
            torch.save(dict(training_state), tmp / TRAINING_STATE)
            files.append(TRAINING_STATE)
        meta = {
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "code_version": code_version(),
            "language_model_id": language_model_id,
            "config": config_dict,
            "normalization": dict(normalization or {}),
            "extra": dict(extra or {}),
            "files": {name: {"sha256": _sha256(tmp / name), "bytes": (tmp / name).stat().st_size}
                      for name in files},
        }
        _fsync_write(tmp / META, json.dumps(meta, indent=2, sort_keys=True).encode())
        old = path.parent / f".{path.name}.old-{os.getpid()}"
        if path.exists():
            os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except (OSError, RuntimeError) as exc:
        # a full disk surfaces from torch.save as "unexpected pos ..." (RuntimeError)
        shutil.rmtree(tmp, ignore_errors=True)
        cause = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: could not write the checkpoint ({cause}; is the disk "
                              "full or read-only?); an earlier checkpoint there is "
                              "untouched") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _verify_file(file: Path, expected: Mapping[str, Any]) -> None:
    if not file.is_file():
        raise CheckpointError(f"{file}: file is missing")
    size = file.stat().st_size
    if size != expected.get("bytes"):
        raise CheckpointError(f"{file}: file is truncated or damaged ({size} bytes, meta.json "
                              f"records {expected.get('bytes')})")
    if _sha256(file) != expected.get("sha256"):
        raise CheckpointError(f"{file}: checksum does not match meta.json (file is damaged)")


def read_meta(path: str | Path) -> dict[str, Any]:
    """Read and check ``meta.json`` of a checkpoint directory (no weights are loaded)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint does not exist")
    if not path.is_dir():
        raise CheckpointError(f"{path}: a checkpoint is a directory containing {META} and "
                              f"{WEIGHTS}, this is a file")
    meta_file = path / META
    if not meta_file.is_file():
        raise CheckpointError(f"{meta_file}: file is missing (not a lumos checkpoint?)")
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{meta_file}: not valid JSON (truncated or damaged): {exc}") from exc
    if not isinstance(meta, dict) or "format_version" not in meta:
        raise CheckpointError(f"{meta_file}: no format_version field (not a lumos checkpoint?)")
    if meta["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"{meta_file}: format version {meta['format_version']!r} is not "
                              f"supported by this lumos_core (reads version {FORMAT_VERSION})")
    for key in ("kind", "config", "files"):
        if key not in meta:
            raise CheckpointError(f"{meta_file}: required field {key!r} is missing")
    shapes = {"kind": str, "config": dict, "files": dict, "normalization": dict, "extra": dict}
    for key, tp in shapes.items():
        if key in meta and not isinstance(meta[key], tp):
            raise CheckpointError(f"{meta_file}: field {key!r} must be a JSON "
                                  f"{'string' if tp is str else 'object'}, got "
                                  f"{type(meta[key]).__name__} (damaged or hand-edited?)")
    for name, entry in meta["files"].items():
        if not isinstance(entry, dict):
            raise CheckpointError(f"{meta_file}: files[{name!r}] must be an object with sha256 "
                                  f"and bytes, got {type(entry).__name__}")
    return meta


def load_checkpoint(path: str | Path, kind: str | tuple[str, ...] | None = None) -> Checkpoint:
    """Load and verify a checkpoint; ``kind`` restricts which kinds are acceptable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_meta(path)
    allowed = (kind,) if isinstance(kind, str) else kind
    if allowed is not None and meta["kind"] not in allowed:
        raise CheckpointError(f"{path}: checkpoint kind is {meta['kind']!r}, expected "
                              f"{' or '.join(repr(k) for k in allowed)}")
    weights = path / WEIGHTS
    if WEIGHTS not in meta["files"]:
        raise CheckpointError(f"{path / META}: lists no {WEIGHTS}")
    _verify_file(weights, meta["files"][WEIGHTS])
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: cannot read weights: {exc}") from exc
    return Checkpoint(path=path, kind=meta["kind"], config=meta["config"], tensors=tensors,
                      normalization=meta.get("normalization", {}),
                      language_model_id=meta.get("language_model_id"),
                      extra=meta.get("extra", {}), meta=meta)
