"""Training BC error (``bc_mse`` in metrics.jsonl) per block of batches, for session 31's runs.

    python docs/agents_s31/mse_curve.py NAME=RUN_DIR ... [--block 2000]
"""
import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", help="NAME=RUN_DIR (a train-agent output directory)")
    ap.add_argument("--block", type=int, default=2000)
    args = ap.parse_args()
    curves = {}
    for spec in args.runs:
        name, run = spec.split("=", 1)
        rows = [json.loads(line) for line in open(Path(run) / "metrics.jsonl")]
        rows = [r for r in rows if "bc_mse" in r]
        last = max(r["step"] for r in rows)
        curves[name] = {lo: float(np.mean([r["bc_mse"] for r in rows
                                          if lo < r["step"] <= lo + args.block]))
                        for lo in range(0, last, args.block)}
    blocks = sorted({lo for c in curves.values() for lo in c})
    print("| run | " + " | ".join(f"{lo + 1}–{lo + args.block}" for lo in blocks) + " |")
    print("|---" * (len(blocks) + 1) + "|")
    for name, c in curves.items():
        print(f"| {name} | " + " | ".join(f"{c[lo]:.4f}" if lo in c else "" for lo in blocks)
              + " |")


if __name__ == "__main__":
    main()
