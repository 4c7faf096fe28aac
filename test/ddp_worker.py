"""Run by test_ddp.py under torchrun: train a few DDP steps, save this rank's parameters."""

import sys
from pathlib import Path

import torch

from lumos_core.config import load_config
from lumos_core.train_wm import WorldModelTrainer


def main() -> None:
    dataset, out = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    cfg = load_config("debug", [f"data.dataset={dataset}", "wm_train.seq_len=8",
                                "wm_train.batch_size=2", "wm_train.eval_every=1000",
                                "wm_train.checkpoint_every=1000", "wm_train.log_every=1000"])
    trainer = WorldModelTrainer(cfg, out / "run", progress=False)
    trainer.fit(4)
    flat = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
    torch.save({"params": flat, "world": trainer.dist.world, "step": trainer.step},
               out / f"rank{trainer.dist.rank}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
