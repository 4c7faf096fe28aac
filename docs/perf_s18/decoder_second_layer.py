import time, torch, torch.nn.functional as F
torch.set_num_threads(1)
from lumos_core.world_model import ConvDecoder
d = 16; N = 256
dec = ConvDecoder(d)
f = torch.randn(N, 32 * d, requires_grad=True)
def base():
    return dec(f)
def dec2_fp32():
    first = dec.net[0]
    y = (f @ first.weight.flatten(1)).view(N, -1, 5, 5) + first.bias[:, None, None]
    y = F.elu(y)
    with torch.autocast("cpu", enabled=False):
        y = F.elu(dec.net[2](y.float()))
    return dec.net[4:](y)
def dec2_subpix():
    first = dec.net[0]
    y = (f @ first.weight.flatten(1)).view(N, -1, 5, 5) + first.bias[:, None, None]
    y = F.elu(y)
    # transposed conv k5 s2 = pad kernel to 6, subpixel 3x3 conv with 4 phases
    w = F.pad(dec.net[2].weight, (0, 1, 0, 1))          # (in, out, 6, 6)
    cin, cout = w.shape[:2]
    # phase (a,b): output (2i+a, 2j+b) = sum_m,n x[i-m, j-n] w[2m+a, 2n+b]
    wp = w.view(cin, cout, 3, 2, 3, 2).permute(3, 5, 1, 0, 2, 4).reshape(4 * cout, cin, 3, 3)
    wp = wp.flip(-1, -2)
    out = F.conv2d(y, wp, padding=2)                    # (N, 4*cout, 7, 7)
    out = out.view(N, 2, 2, cout, 7, 7).permute(0, 3, 4, 1, 5, 2).reshape(N, cout, 14, 14)
    out = out[:, :, :13, :13] + dec.net[2].bias[:, None, None]
    return dec.net[4:](F.elu(out))
fns = {"base": base, "dec2_fp32": dec2_fp32, "dec2_subpix": dec2_subpix}
with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
    ref = base().float()
    for k, fn in fns.items():
        print(k, "max diff", (fn().float() - ref).abs().max().item())
def run(fn):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fn()
    out.float().square().mean().backward()
for fn in fns.values(): run(fn)
times = {k: [] for k in fns}
for _ in range(9):
    for k, fn in fns.items():
        t = time.perf_counter(); run(fn); times[k].append(time.perf_counter() - t)
for k, v in times.items():
    v.sort(); print(k, f"{v[4]*1000:.1f} ms (min {v[0]*1000:.1f})")
