"""`lumos benchmark expert`: per-task success of the scripted expert from random feasible
states (the data's upper bound).

    lumos benchmark expert --trials 50      # every task from >= 50 random feasible states
    lumos benchmark expert --multimodal     # the expert of collect.multimodal play
"""

from __future__ import annotations

import multiprocessing as mp
import time

import numpy as np

from lumos_core.config import SimConfig
from lumos_core.sim import scene
from lumos_core.sim.chains import run_expert_task
from lumos_core.sim.env import BLOCKS, PlayTableEnv
from lumos_core.sim.expert import ScriptedExpert
from lumos_core.sim.tasks import TASKS

NEEDS_HELD_BLOCK = ("place_in_drawer", "place_in_slider", "stack_block")


def prepare(env: PlayTableEnv, expert: ScriptedExpert, task: str, rng: np.random.Generator,
            attempts: int = 50) -> bool:
    """Bring the env into a random state where ``task`` is feasible (True on success).

    Random scenes cover most tasks; ``unstack_block`` gets a scene with two blocks stacked,
    ``place_in_drawer`` an open drawer, and the tasks that need a held block start with the
    expert lifting a random free block.
    """
    for _ in range(attempts):
        env.reset(seed=int(rng.integers(2 ** 31)))
        state = env.scene_obs()
        if task == "place_in_drawer":
            state[1] = scene.DRAWER_TRAVEL
        if task == "unstack_block":
            top, bottom = rng.choice(BLOCKS, 2, replace=False)
            t, b = 6 + 6 * BLOCKS.index(top), 6 + 6 * BLOCKS.index(bottom)
            state[t:t + 2] = state[b:b + 2]
            state[t + 2] = scene.BLOCK_SIZES[bottom][2] + scene.BLOCK_SIZES[top][2] / 2 + 0.001
            state[t + 5] = state[b + 5]
        env.reset(options={"scene_obs": state})
        if task in NEEDS_HELD_BLOCK:
            free = [c for c in BLOCKS if expert.feasible(f"lift_{c}_block_table")]
            lift = f"lift_{rng.choice(free)}_block_table" if free else None
            if lift is None or not run_expert_task(env, expert, lift):
                continue
        if expert.feasible(task):
            return True
    return False


def _expert_trials(args: tuple[str, int, int, bool]) -> dict:
    task, trials, seed, multimodal = args
    rng = np.random.default_rng(seed)
    with PlayTableEnv(SimConfig(render=False)) as env:
        expert = ScriptedExpert(env, rng, multimodal=multimodal)
        success, prepared, started = 0, 0, time.perf_counter()
        for _ in range(trials):
            if not prepare(env, expert, task, rng):
                continue
            prepared += 1
            success += run_expert_task(env, expert, task)
    return {"task": task, "success": success, "trials": prepared,
            "seconds": time.perf_counter() - started}


def expert_success(trials: int = 50, seed: int = 0, workers: int = 2,
                   tasks: tuple[str, ...] = TASKS, multimodal: bool = False) -> list[dict]:
    """Success of the scripted expert on every task over ``trials`` random feasible states
    (``multimodal``: the expert of ``collect.multimodal`` play)."""
    jobs = [(task, trials, seed * 1000 + i, multimodal) for i, task in enumerate(tasks)]
    with mp.get_context("spawn").Pool(workers) as pool:
        return list(pool.imap(_expert_trials, jobs))


def expert_table(results: list[dict]) -> str:
    """Markdown table of :func:`expert_success`."""
    lines = ["| task | success | trials |", "|---|---|---|"]
    for r in results:
        rate = r["success"] / r["trials"] if r["trials"] else float("nan")
        lines.append(f"| {r['task']} | {100 * rate:.0f} % | {r['trials']} |")
    total = sum(r["success"] for r in results) / max(sum(r["trials"] for r in results), 1)
    lines.append(f"| **all** | {100 * total:.1f} % | {sum(r['trials'] for r in results)} |")
    return "\n".join(lines) + "\n"


def register(sub) -> None:
    """`lumos benchmark expert`."""
    from lumos_core.cli.common import POSITIVE

    parser = sub.add_parser("expert", help="scripted expert success per task")
    parser.add_argument("--trials", type=POSITIVE, default=50, help="trials per task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=POSITIVE, default=2)
    parser.add_argument("--multimodal", action="store_true",
                        help="the expert of collect.multimodal play (random grasp turn and "
                             "detour)")
    parser.set_defaults(handler=main)


def main(args) -> int:
    print(expert_table(expert_success(args.trials, args.seed, args.workers,
                                      multimodal=args.multimodal)), end="")
    return 0
