"""`colcon build` of a workspace holding this repository (the path real ROS 2 users take)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def test_colcon_build_installs_interfaces_nodes_and_share(tmp_path):
    venv = Path(sys.prefix)
    colcon = venv / "bin" / "colcon"
    if not colcon.exists():
        pytest.fail(f"{colcon} is missing: run `make setup`")
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    src = tmp_path / "ws" / "src" / "lumos_ros"
    for name in files:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, src / name)
    env = dict(os.environ, AMENT_PREFIX_PATH=str(venv), CMAKE_PREFIX_PATH=str(venv),
               PATH=f"{venv / 'bin'}:{os.environ['PATH']}")
    result = subprocess.run(
        [str(colcon), "build", "--cmake-args", "-DBUILD_TESTING=OFF",
         f"-DPython3_EXECUTABLE={sys.executable}"],
        cwd=tmp_path / "ws", env=env, capture_output=True, text=True, timeout=600)
    log = tmp_path / "ws" / "log" / "latest_build" / "lumos_ros" / "stderr.log"
    details = log.read_text()[-3000:] if log.exists() else ""
    assert result.returncode == 0, result.stdout[-2000:] + details
    install = tmp_path / "ws" / "install" / "lumos_ros"
    site = next(install.glob("lib/python3*/site-packages"))
    for module in ("lumos_ros/msg/_latent_state.py", "lumos_ros/srv/_language_command.py",
                   "lumos_ros/language_command_server.py", "lumos_core/config.py"):
        assert (site / module).is_file(), module
    assert "extend_path" in (site / "lumos_ros" / "__init__.py").read_text()
    assert os.access(install / "lib" / "lumos_ros" / "language_command_server", os.X_OK)
    assert (install / "bin" / "lumos").is_file()
    assert (install / "share" / "lumos_ros" / "config" / "lumos.yaml").is_file()
    check = subprocess.run(
        [sys.executable, "-c", "from lumos_ros.msg import LatentState; "
         "from lumos_ros.language_command_server import LanguageCommandServer; "
         "LatentState(deterministic=[1.0]); "
         "from lumos_core.paths import share_dir; print(share_dir())"],
        env=dict(env, PYTHONPATH=str(site), AMENT_PREFIX_PATH=f"{install}:{venv}",
                 LD_LIBRARY_PATH=f"{install / 'lib'}:{os.environ.get('LD_LIBRARY_PATH', '')}"),
        cwd=tmp_path, capture_output=True, text=True,
        timeout=120)
    assert check.returncode == 0, check.stderr
