"""flake8 at 99 columns over the whole package, run as a test (ROS convention)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_flake8():
    result = subprocess.run([sys.executable, "-m", "flake8", "--config", str(REPO / ".flake8"),
                             "lumos_core", "lumos_ros", "test", "launch", "scripts", "setup.py"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
