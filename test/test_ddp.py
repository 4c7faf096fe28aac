"""torchrun with 2 CPU processes (gloo): DDP keeps the replicas identical."""

import socket
import subprocess
import sys
from pathlib import Path

import torch
from conftest import require_loopback_only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_training_keeps_parameters_identical(sim_dataset, tmp_path):
    require_loopback_only()
    torchrun = Path(sys.executable).parent / "torchrun"
    worker = Path(__file__).parent / "ddp_worker.py"
    result = subprocess.run(
        [str(torchrun), "--nproc_per_node=2", "--master_addr=127.0.0.1",
         f"--master_port={_free_port()}", str(worker), str(sim_dataset[0]), str(tmp_path)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    assert ranks[0]["world"] == 2 and ranks[0]["step"] == 4
    assert torch.equal(ranks[0]["params"], ranks[1]["params"])
    assert ranks[0]["params"].abs().sum() > 0
    assert (tmp_path / "run" / "checkpoints").exists(), "rank 0 writes the final checkpoint"
