"""Session 15: how many language windows of a state-preset batch enter the contrastive loss,
and how many pairs of them share a task (200 sampled batches; the Table I features)."""
from collections import Counter
from pathlib import Path

import numpy as np

from lumos_core.agent_data import WindowSampler
from lumos_core.config import load_config
from lumos_core.featurize import Features

cfg = load_config("state")
features = Features(Path("runs/bench12/features/training"))
sampler = WindowSampler(features, Path(features.meta["dataset"]) / "training", cfg.agent,
                        np.random.default_rng(0))
aligned, pairs = [], []
for _ in range(200):
    batch = sampler.sample(cfg.agent_train.batch_size)
    selected = (batch["align"] & batch["is_lang"]).numpy()
    tasks = Counter(batch["task"].numpy()[selected].tolist())
    aligned.append(selected.sum())
    pairs.append(sum(c * (c - 1) // 2 for c in tasks.values()))
print(f"batch {cfg.agent_train.batch_size}: {np.mean(aligned):.1f} windows in the contrastive "
      f"loss, {np.mean(pairs):.1f} same-task pairs")
