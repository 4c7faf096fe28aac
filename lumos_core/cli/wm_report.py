"""`lumos wm-report`: open-loop predictions of a world model on recorded play."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lumos_core.cli.common import POSITIVE


def register(sub) -> None:
    report = sub.add_parser("wm-report", help="open-loop prediction report of a world model")
    report.add_argument("checkpoint")
    report.add_argument("--dataset", default=None, help="default: the dataset it trained on")
    report.add_argument("--split", default="validation")
    report.add_argument("--context", type=POSITIVE, default=5)
    report.add_argument("--horizon", type=POSITIVE, default=195)
    report.add_argument("--sequences", type=POSITIVE, default=4)
    report.add_argument("--seed", type=int, default=0)
    report.add_argument("--out", required=True)
    report.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.data.dataset import PlayData
    from lumos_core.featurize import load_world_model
    from lumos_core.runs import writable_dir
    from lumos_core.wm_report import filter_precision, open_loop, write_open_loop

    writable_dir(args.out)
    model, cfg = load_world_model(args.checkpoint)
    dataset = Path(args.dataset or cfg.data.dataset) / args.split
    data = PlayData(dataset, cfg.data.image_size, images=cfg.world_model.obs_mode == "vision")
    summary = write_open_loop(open_loop(model, data, args.context, args.horizon,
                                        args.sequences, args.seed), args.out)
    if "mse" in summary:
        curves = {"state (normalised per dimension)": summary["mse"]}
    else:
        curves = {f"{k} image": v["mse"] for k, v in summary.items() if isinstance(v, dict)}
    for name, curve in curves.items():
        marks = [1, 10, 50, len(curve)]
        text = ", ".join(f"step {m}: {curve[m - 1]:.4f}" for m in marks if m <= len(curve))
        print(f"{name} MSE  {text}")
    if summary.get("per_dimension"):
        worst = sorted(summary["per_dimension"].items(), key=lambda kv: -kv[1])[:3]
        print("largest errors: " + ", ".join(f"{k} {v:.3f}" for k, v in worst)
              + (f"; near-constant in the data (not in the aggregate): "
                 f"{', '.join(summary['near_constant'])}" if summary["near_constant"] else ""))
    if cfg.world_model.obs_mode == "state":
        precision = filter_precision(model, data, seed=args.seed)
        summary["filter_precision"] = precision
        print("filtered latent -> state (posterior reconstruction after 64 frames, absolute "
              "error median / p90): " + "; ".join(f"{k} {v['median']:.3g} / {v['p90']:.3g}"
                                                  for k, v in precision.items()))
        (Path(args.out) / "filter_precision.json").write_text(json.dumps(precision, indent=1))
    print(f"report: {args.out}")
    return 0
