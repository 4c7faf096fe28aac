"""Locate the package's shared files (config/, launch/) in a source tree or an install."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = "lumos_ros"


def share_dir() -> Path:
    """Directory holding ``config/`` and ``launch/``.

    Looked up, in order: the source tree this module lives in (a checkout or an editable
    install), ``<prefix>/share/lumos_ros`` of the running interpreter (pip install) and the
    ament index (colcon install).
    """
    source = Path(__file__).resolve().parent.parent
    candidates = [source, Path(sys.prefix) / "share" / PACKAGE]
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory(PACKAGE)))
    except Exception:  # noqa: BLE001 - ament index absent or package not registered
        pass
    for candidate in candidates:
        if (candidate / "config" / "lumos.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"cannot find the {PACKAGE} share directory (config/lumos.yaml); looked in: "
        + ", ".join(str(c) for c in candidates))


def config_file(name: str) -> Path:
    """Path of a file under ``config/``."""
    return share_dir() / "config" / name


class ParameterFileError(ValueError):
    """A ROS parameter file that is missing or not ``/**: ros__parameters: ...``."""


def ros_parameters(files) -> dict:
    """The parameters ``files`` set (names under config/, or paths), applied in order as
    ``--params-file`` does; :class:`ParameterFileError` names a bad file."""
    import yaml

    params: dict = {}
    for name in files:
        path = Path(name) if Path(name).is_file() else config_file(str(name))
        if not path.is_file():
            raise ParameterFileError(
                f"parameter file {str(name)!r} not found (expected a YAML file or a name "
                f"under config/, e.g. action_executor.yaml)")
        try:
            params.update(yaml.safe_load(path.read_text())["/**"]["ros__parameters"])
        except (yaml.YAMLError, TypeError, KeyError, AttributeError) as exc:
            raise ParameterFileError(f"parameter file {path}: expected '/**: "
                                     f"ros__parameters: ...' ({exc!r})") from None
    return params
