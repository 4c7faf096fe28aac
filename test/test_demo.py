"""The README's main command, end to end (the Makefile only adds setup and the namespace)."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_loopback_only

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_lumos_demo_end_to_end(tmp_path):
    require_loopback_only()
    lumos = Path(sys.executable).parent / "lumos"
    out = tmp_path / "demo"
    result = subprocess.run([str(lumos), "demo", "--seconds-per-task", "3", "--out", str(out)],
                            capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "demo: OK" in result.stdout
    assert "rejected: True" in result.stdout
    assert result.stdout.count(" -> ") == 6   # the rejected one, then a verdict per instruction
    assert (out / "demo.gif").stat().st_size > 10_000
