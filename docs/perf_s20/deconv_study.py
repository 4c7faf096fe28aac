"""Session 20: a stride-2 transposed convolution as one matrix product and ``F.fold``
(col2im), against ``nn.ConvTranspose2d``, for the `cpu` preset's decoder layers (one camera,
8 x 32 frames), forward + backward, fp32 and bf16 autocast, interleaved.

    OMP_NUM_THREADS=1 python docs/perf_s20/deconv_study.py [--frames 256] [--reps 9]

Then, for the last layer (16 -> 3 channels onto 64 x 64), the parts of the fold path alone
(medians of ``--reps``, fp32, no autograd): the patch product, ``F.fold``, ``F.unfold`` (the
fold's backward) and the forward deconvolution.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


def fold_deconv(x: torch.Tensor, conv: nn.ConvTranspose2d) -> torch.Tensor:
    """conv(x) as cols = W^T x per input pixel, then the overlapping patches summed (fold)."""
    n, c, h, w = x.shape
    k, s = conv.kernel_size[0], conv.stride[0]
    out = (h - 1) * s + k
    cols = torch.matmul(conv.weight.flatten(1).t(), x.flatten(2))      # (n, o*k*k, h*w)
    y = F.fold(cols, (out, out), k, stride=s)
    return y + conv.bias[:, None, None]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--reps", type=int, default=9)
    args = p.parse_args()
    torch.manual_seed(0)
    layers = {"16->3 k6 (30->64)": (nn.ConvTranspose2d(16, 3, 6, 2), 30),
              "32->16 k6 (13->30)": (nn.ConvTranspose2d(32, 16, 6, 2), 13),
              "64->32 k5 (5->13)": (nn.ConvTranspose2d(64, 32, 5, 2), 5)}
    for name, (conv, size) in layers.items():
        x = torch.randn(args.frames, conv.in_channels, size, size, requires_grad=True)
        with torch.no_grad():
            ref, alt = conv(x), fold_deconv(x, conv)
        print(name, "max |diff| fp32", f"{(ref - alt).abs().max().item():.2e}")
        for dtype in ("fp32", "bf16"):
            def run(f):
                def go():
                    with torch.autocast("cpu", torch.bfloat16, enabled=dtype == "bf16"):
                        y = f(x)
                    y.float().square().mean().backward()
                return go
            fns = {"ConvTranspose2d": run(conv),
                   "matmul+fold": run(lambda v: fold_deconv(v, conv))}
            times = {k: [] for k in fns}
            for f in fns.values():
                f()
            for _ in range(args.reps):
                for k, f in fns.items():
                    times[k].append(timed(f))
            base = statistics.median(times["ConvTranspose2d"])
            for k, v in times.items():
                m = statistics.median(v)
                print(f"  {dtype} {k:16s} {m * 1e3:7.1f} ms (min {min(v) * 1e3:.1f}) "
                      f"x{base / m:.2f}")

    conv = layers["16->3 k6 (30->64)"][0]
    x = torch.randn(args.frames, 16, 30, 30)
    cols = torch.randn(args.frames, 3 * 36, 900)
    y = torch.randn(args.frames, 3, 64, 64)
    parts = {"patch product W^T x": lambda: torch.matmul(conv.weight.flatten(1).t(),
                                                         x.flatten(2)),
             "F.fold": lambda: F.fold(cols, (64, 64), 6, stride=2),
             "F.unfold": lambda: F.unfold(y, 6, stride=2),
             "ConvTranspose2d forward": lambda: conv(x)}
    with torch.no_grad():
        for name, f in parts.items():
            f()
            print(f"16->3 part: {name:24s} "
                  f"{statistics.median(timed(f) for _ in range(args.reps)) * 1e3:6.1f} ms")


if __name__ == "__main__":
    main()
