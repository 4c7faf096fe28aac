import time, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1)
from lumos_core.world_model import ConvEncoder, ConvDecoder
d = 16; N = 256
encs = [ConvEncoder(d) for _ in range(2)]
decs = [ConvDecoder(d) for _ in range(2)]
x = [torch.rand(N, 3, 64, 64) * 2 - 1 for _ in range(2)]
f = torch.randn(N, 32 * d, requires_grad=True)

def sep_enc():
    return [e(xi) for e, xi in zip(encs, x)]

def grp_enc():
    h = torch.cat(x, 1)
    for i in range(0, 8, 2):
        w = torch.cat([encs[0].net[i].weight, encs[1].net[i].weight], 0)
        b = torch.cat([encs[0].net[i].bias, encs[1].net[i].bias], 0)
        h = F.elu(F.conv2d(h, w, b, stride=2, groups=2))
    return [h.flatten(1)]

def sep_dec():
    return [dd(f) for dd in decs]

def grp_dec():
    ys = []
    for dd in decs:
        first = dd.net[0]
        ys.append((f @ first.weight.flatten(1)).view(N, -1, 5, 5) + first.bias[:, None, None])
    h = F.elu(torch.cat(ys, 1))
    for j, i in enumerate((2, 4, 6)):
        w = torch.cat([decs[0].net[i].weight, decs[1].net[i].weight], 0)
        b = torch.cat([decs[0].net[i].bias, decs[1].net[i].bias], 0)
        h = F.conv_transpose2d(h, w, b, stride=2, groups=2)
        if i != 6:
            h = F.elu(h)
    return [h]

def run(fn):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fn()
    loss = sum(o.float().square().mean() for o in out)
    loss.backward()

fns = {"sep_enc": sep_enc, "grp_enc": grp_enc, "sep_dec": sep_dec, "grp_dec": grp_dec}
for fn in fns.values():
    run(fn)
times = {k: [] for k in fns}
for _ in range(7):
    for k, fn in fns.items():
        t = time.perf_counter(); run(fn); times[k].append(time.perf_counter() - t)
for k, v in times.items():
    v.sort(); print(k, f"{v[3]*1000:.1f} ms (min {v[0]*1000:.1f})")
# equivalence check
with torch.no_grad():
    a = torch.cat(sep_enc(), -1); b = grp_enc()[0]
    print("enc equal?", a.shape, b.shape)
