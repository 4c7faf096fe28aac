"""Peak memory (MB) of world-model training steps per preset and path, each in a process of
its own, measured from a reset of the process's peak (as `lumos benchmark world-model
--compare-eager` does since session 27), without the timing runs: one warm-up and one timed
step per path.

    OMP_NUM_THREADS=1 python docs/perf_s27/wm_peak_mb.py paper
"""

import sys

from lumos_core.benchmarks.timing import in_own_process
from lumos_core.benchmarks.world_model import measure

if __name__ == "__main__":
    for preset in sys.argv[1:] or ["cpu", "paper"]:
        for precision in ("fp32", "default"):
            row = in_own_process(measure, preset=preset, train_steps=1, latency_steps=1,
                                 precision=precision)
            print(f"{preset} {precision} ({row['precision']}): peak {row['peak_mb']:.0f} MB, "
                  f"step {row['train_step_s']:.2f} s")
