"""Session 29 scratch: the cost of a dropout mask's draws on one CPU thread, at the sizes of the
plan transformer's dropouts in the `long` recipe's BC update (attention weights: 128 windows x
8 heads x 64 x 64; feed-forward: 128 x 64 x 256), median of 20 after one warm-up.

    OMP_NUM_THREADS=1 python docs/perf_s29/dropout_draws.py
"""
import time

import torch


def median_ms(fn, n: int = 20) -> float:
    fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[n // 2] * 1e3


def main():
    torch.set_num_threads(1)
    for shape in [(128 * 8, 64, 64), (128, 64, 256)]:
        for dtype in (torch.float32, torch.bfloat16):
            x = torch.randn(shape, dtype=dtype)
            print(f"{shape} {dtype}: "
                  f"bernoulli_ {median_ms(lambda: torch.empty_like(x).bernoulli_(0.9)):.2f} ms, "
                  f"rand < p {median_ms(lambda: torch.rand_like(x) < 0.9):.2f} ms, "
                  f"F.dropout {median_ms(lambda: torch.nn.functional.dropout(x, 0.1)):.2f} ms")


if __name__ == "__main__":
    main()
