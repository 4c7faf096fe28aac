"""`lumos benchmark sim`: control steps per second of the simulator (IK, physics, cameras).

    lumos benchmark sim                     # 64x64, 200x200 + 84x84 and no cameras
"""

from __future__ import annotations

import time

import numpy as np

from lumos_core.config import SimConfig
from lumos_core.sim.env import PlayTableEnv


def control_throughput(sim: SimConfig, steps: int = 300, seed: int = 0) -> dict:
    """Control steps per second (IK + 8 physics substeps + rendering) in one process."""
    with PlayTableEnv(sim) as env:
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        actions = rng.uniform(-1, 1, (steps, 7))
        for action in actions[:20]:
            env.step(action)
        started = time.perf_counter()
        for action in actions:
            env.step(action)
        seconds = time.perf_counter() - started
    return {"static": sim.static_size, "gripper": sim.gripper_size, "render": sim.render,
            "steps_per_s": steps / seconds, "ms_per_step": 1000 * seconds / steps}


def register(sub) -> None:
    """`lumos benchmark sim`."""
    from lumos_core.cli.common import POSITIVE

    parser = sub.add_parser("sim", help="simulator control steps per second")
    parser.add_argument("--steps", type=POSITIVE, default=300, help="control steps timed")
    parser.set_defaults(handler=main)


def main(args) -> int:
    print("| cameras | steps/s (1 process) | ms/step |\n|---|---|---|")
    for sim in (SimConfig(static_size=64, gripper_size=64),
                SimConfig(static_size=200, gripper_size=84), SimConfig(render=False)):
        r = control_throughput(sim, args.steps)
        name = (f"{r['static']}x{r['static']} + {r['gripper']}x{r['gripper']}"
                if r["render"] else "none (state only)")
        print(f"| {name} | {r['steps_per_s']:.1f} | {r['ms_per_step']:.2f} |", flush=True)
    return 0
