"""How much the latent plan carries: BC MSE of a plan-conditioned actor on language windows
with the recognised (posterior) plan, the proposed (prior) plan, another window's plan, and
the entropy of the plan distributions.  usage: python plan_probe.py CHECKPOINT [SPLIT]"""
import sys
from pathlib import Path

import numpy as np
import torch

from lumos_core.agent_data import WindowSampler
from lumos_core.featurize import Features
from lumos_core.policy import LumosPolicy
from lumos_core.world_model import kl_categorical

ckpt = sys.argv[1]
split = sys.argv[2] if len(sys.argv) > 2 else "validation"
pol = LumosPolicy(ckpt)
b = pol.behaviour
cfg = pol.cfg.agent
feats = Features(Path("runs/f5/features") / split)
rng = np.random.default_rng(0)
sampler = WindowSampler(feats, Path(feats.meta["dataset"]) / split, cfg, rng)
torch.manual_seed(0)
rows = {k: [] for k in ("post", "prior", "prior_mode", "shuffled", "zero", "H_post",
                        "H_prior", "kl", "post_maxp")}


def mse(feat, goal, plan, actions, mask):
    mean, _ = b.action_dist(feat, goal, plan)
    err = ((mean[..., :6] - actions[..., :6]) ** 2).mean(-1)
    return float((err * mask).sum() / mask.sum())


def entropy(logits):
    p = b.plan_logits(logits).softmax(-1)
    return float(-(p * p.clamp_min(1e-12).log()).sum(-1).mean()), float(p.max(-1)[0].mean())


with torch.no_grad():
    for _ in range(20):
        batch = sampler.sample(32)
        feat, mask = batch["feat"], batch["mask"].float()
        codes = b.code(feat)
        last = batch["mask"].long().sum(1) - 1
        goal = b.goal(codes, last, batch["lang"], batch["is_lang"])
        a = batch["actions"]
        if not b.uses_plan:
            rows["post"].append(mse(feat, goal, None, a, mask))
            continue
        rec, _ = b.recognition(codes, batch["mask"])
        prop = b.proposal(torch.cat([codes[:, 0], goal], -1))
        post = b.sample_plan(rec, False)
        prior = b.sample_plan(prop, False)
        idx = b.plan_logits(prop).argmax(-1)
        mode = torch.nn.functional.one_hot(idx, cfg.plan_classes).float().flatten(-2)
        rows["post"].append(mse(feat, goal, post, a, mask))
        rows["prior"].append(mse(feat, goal, prior, a, mask))
        rows["prior_mode"].append(mse(feat, goal, mode, a, mask))
        rows["shuffled"].append(mse(feat, goal, post[torch.randperm(len(post))], a, mask))
        rows["zero"].append(mse(feat, goal, torch.zeros_like(post), a, mask))
        h, m = entropy(rec)
        rows["H_post"].append(h)
        rows["post_maxp"].append(m)
        rows["H_prior"].append(entropy(prop)[0])
        rows["kl"].append(float(kl_categorical(b.plan_logits(rec), b.plan_logits(prop)).mean()))
print(f"{ckpt} on {split} language windows (640), uniform entropy per categorical "
      f"{np.log(cfg.plan_classes):.2f} nats")
for k, v in rows.items():
    if v:
        print(f"{k:>10}: {np.mean(v):.4f}")
