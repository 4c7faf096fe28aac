"""Session 18: where the `cpu` preset's world-model step spends its convolution time, and two
rewrites tried on it (one thread, bf16 autocast; each variant interleaved with the others).

    OMP_NUM_THREADS=1 python docs/perf_s18/conv_study.py

Prints, in ms (median of the interleaved repeats, fwd + bwd of 256 frames = the batch 8 x 32):
1. both cameras' encoders and decoders as the model runs them, and as one grouped
   convolution per layer (``groups=2``: the same parameters, concatenated);
2. every layer of one camera in fp32 and bf16, default and channels_last layouts;
3. one decoder as it is, with its second layer in fp32, and with that layer as a sub-pixel
   convolution (four phases of a 3 x 3 convolution and a pixel shuffle; equal to bf16 rounding).
"""

import time

import torch
from torch import nn
from torch.nn import functional as F

from lumos_core.world_model import ConvDecoder, ConvEncoder

DEPTH, FRAMES = 16, 256
BF16 = torch.bfloat16


def timed(fns: dict, repeats: int) -> dict:
    """Median ms of each zero-argument function, the functions interleaved."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: 1000 * sorted(v)[len(v) // 2] for k, v in times.items()}


def backward_of(make, dtype=BF16):
    """A function running ``make()`` under autocast and back-propagating a scalar of it."""
    def run():
        with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            out = make()
        sum(o.float().square().mean() for o in out).backward()
    return run


def first_layer(dec: ConvDecoder, feat: torch.Tensor) -> torch.Tensor:
    first = dec.net[0]
    return (feat @ first.weight.flatten(1)).view(len(feat), -1, 5, 5) + first.bias[:, None, None]


def grouped(layers: list, name: str, x: torch.Tensor, **kw) -> torch.Tensor:
    weight = torch.cat([layer.weight for layer in layers], 0)
    bias = torch.cat([layer.bias for layer in layers], 0)
    return getattr(F, name)(x, weight, bias, stride=2, groups=len(layers), **kw)


def cameras() -> None:
    encs = [ConvEncoder(DEPTH) for _ in range(2)]
    decs = [ConvDecoder(DEPTH) for _ in range(2)]
    images = [torch.rand(FRAMES, 3, 64, 64) * 2 - 1 for _ in range(2)]
    feat = torch.randn(FRAMES, 32 * DEPTH, requires_grad=True)

    def enc_grouped():
        h = torch.cat(images, 1)
        for i in range(0, 8, 2):
            h = F.elu(grouped([e.net[i] for e in encs], "conv2d", h))
        return [h]

    def dec_grouped():
        h = F.elu(torch.cat([first_layer(d, feat) for d in decs], 1))
        for i in (2, 4, 6):
            h = grouped([d.net[i] for d in decs], "conv_transpose2d", h)
            h = F.elu(h) if i != 6 else h
        return [h]

    res = timed({"encoders": backward_of(lambda: [e(x) for e, x in zip(encs, images)]),
                 "encoders grouped": backward_of(enc_grouped),
                 "decoders": backward_of(lambda: [d(feat) for d in decs]),
                 "decoders grouped": backward_of(dec_grouped)}, 7)
    print("1.", "  ".join(f"{k} {v:.1f}" for k, v in res.items()))


def layers() -> None:
    d = DEPTH
    table = {"enc 3->16 @64": (nn.Conv2d(3, d, 4, 2), (3, 64), False),
             "enc 16->32 @31": (nn.Conv2d(d, 2 * d, 4, 2), (d, 31), True),
             "enc 32->64 @14": (nn.Conv2d(2 * d, 4 * d, 4, 2), (2 * d, 14), True),
             "enc 64->128 @6": (nn.Conv2d(4 * d, 8 * d, 4, 2), (4 * d, 6), True),
             "dec 64->32 @5": (nn.ConvTranspose2d(4 * d, 2 * d, 5, 2), (4 * d, 5), True),
             "dec 32->16 @13": (nn.ConvTranspose2d(2 * d, d, 6, 2), (2 * d, 13), True),
             "dec 16->3 @30": (nn.ConvTranspose2d(d, 3, 6, 2), (d, 30), True)}
    for name, (layer, (chans, size), grad) in table.items():
        x = torch.randn(FRAMES, chans, size, size, requires_grad=grad)
        xcl = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(grad)
        res = {}
        for dtype in (None, BF16):
            for fmt, inp in ((torch.contiguous_format, x), (torch.channels_last, xcl)):
                layer.to(memory_format=fmt)
                key = ("bf16" if dtype else "fp32") + ("/cl" if fmt is torch.channels_last
                                                       else "")
                res[key] = timed({key: backward_of(lambda: [layer(inp)], dtype)}, 7)[key]
        print("2.", f"{name:15s}", "  ".join(f"{k} {v:6.1f}" for k, v in res.items()))


def subpixel(layer: nn.ConvTranspose2d, y: torch.Tensor) -> torch.Tensor:
    """``layer`` (kernel 5, stride 2) as four 3 x 3 phases and a pixel shuffle."""
    w = F.pad(layer.weight, (0, 1, 0, 1))                          # (in, out, 6, 6)
    cin, cout = w.shape[:2]
    w = w.view(cin, cout, 3, 2, 3, 2).permute(3, 5, 1, 0, 2, 4).reshape(4 * cout, cin, 3, 3)
    out = F.conv2d(y, w.flip(-1, -2), padding=2)                   # (N, 4 out, 7, 7)
    n, size = len(y), y.shape[-1] + 2
    out = out.view(n, 2, 2, cout, size, size).permute(0, 3, 4, 1, 5, 2)
    out = out.reshape(n, cout, 2 * size, 2 * size)[:, :, :2 * size - 1, :2 * size - 1]
    return out + layer.bias[:, None, None]


def second_layer() -> None:
    dec = ConvDecoder(DEPTH)
    feat = torch.randn(FRAMES, 32 * DEPTH, requires_grad=True)

    def fp32():
        y = F.elu(first_layer(dec, feat))
        with torch.autocast("cpu", enabled=False):
            y = F.elu(dec.net[2](y.float()))
        return dec.net[4:](y)

    def sub():
        return dec.net[4:](F.elu(subpixel(dec.net[2], F.elu(first_layer(dec, feat)))))

    variants = {"as is": lambda: dec(feat), "second layer fp32": fp32,
                "second layer sub-pixel": sub}
    with torch.no_grad(), torch.autocast("cpu", dtype=BF16):
        ref = dec(feat).float()
        diffs = {k: (fn().float() - ref).abs().max().item() for k, fn in variants.items()}
    res = timed({k: backward_of(lambda fn=fn: [fn()]) for k, fn in variants.items()}, 9)
    print("3.", "  ".join(f"{k} {v:.1f} (max diff {diffs[k]:.4f})" for k, v in res.items()))


if __name__ == "__main__":
    torch.set_num_threads(1)
    cameras()
    layers()
    second_layer()
