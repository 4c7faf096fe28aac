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
