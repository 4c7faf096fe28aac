import time, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1)
d = 16; N = 256
layers = {
 "enc1 3->16 64": (nn.Conv2d(3, d, 4, 2), (N, 3, 64, 64), False),
 "enc2 16->32 31": (nn.Conv2d(d, 2*d, 4, 2), (N, d, 31, 31), True),
 "enc3 32->64 14": (nn.Conv2d(2*d, 4*d, 4, 2), (N, 2*d, 14, 14), True),
 "enc4 64->128 6": (nn.Conv2d(4*d, 8*d, 4, 2), (N, 4*d, 6, 6), True),
 "dec2 64->32 5": (nn.ConvTranspose2d(4*d, 2*d, 5, 2), (N, 4*d, 5, 5), True),
 "dec3 32->16 13": (nn.ConvTranspose2d(2*d, d, 6, 2), (N, 2*d, 13, 13), True),
 "dec4 16->3 30": (nn.ConvTranspose2d(d, 3, 6, 2), (N, d, 30, 30), True),
}
def run(layer, x, dtype, cl):
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
        y = layer(x)
    y.float().square().mean().backward()
for name, (layer, shape, grad_in) in layers.items():
    x = torch.randn(*shape, requires_grad=grad_in)
    res = {}
    for dtype in (None, torch.bfloat16):
        for cl in (False, True):
            if cl:
                layer = layer.to(memory_format=torch.channels_last)
            else:
                layer = layer.to(memory_format=torch.contiguous_format)
            run(layer, x, dtype, cl)
            ts = []
            for _ in range(7):
                t = time.perf_counter(); run(layer, x, dtype, cl); ts.append(time.perf_counter() - t)
            ts.sort(); res[("bf16" if dtype else "fp32") + ("/cl" if cl else "")] = ts[3] * 1000
    print(f"{name:16s}", "  ".join(f"{k} {v:6.1f}" for k, v in res.items()))
