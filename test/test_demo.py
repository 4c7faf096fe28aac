"""The README's main command, end to end (the Makefile only adds setup and the namespace)."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_loopback_only

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_lumos_demo_end_to_end():
    require_loopback_only()
    lumos = Path(sys.executable).parent / "lumos"
    result = subprocess.run([str(lumos), "demo"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "demo: OK" in result.stdout
    assert "late subscriber got the current goal" in result.stdout
