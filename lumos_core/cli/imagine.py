"""`lumos imagine`: what the policy intends, before it moves -- its imagined future in the
world model next to what then really happens in the simulator; `--calibrate N` measures how
far the predictions can be trusted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lumos_core.cli.common import NON_NEGATIVE, POSITIVE


def register(sub) -> None:
    imag = sub.add_parser("imagine", help="dry run of an instruction in the world model: the "
                          "imagined future vs the real one (GIF), or a calibration report")
    imag.add_argument("checkpoint", help="policy checkpoint")
    imag.add_argument("--instruction", default=None, help="the command to imagine")
    imag.add_argument("--chain", type=NON_NEGATIVE, default=None,
                      help="start from this evaluation chain's initial state (default: a "
                           "random scene of --seed)")
    imag.add_argument("--seed", type=int, default=0)
    imag.add_argument("--samples", type=POSITIVE, default=8, help="imagined futures")
    imag.add_argument("--horizon", type=POSITIVE, default=60, help="imagined steps")
    imag.add_argument("--steps", type=POSITIVE, default=360, help="real steps at most")
    imag.add_argument("--calibrate", type=POSITIVE, default=None, metavar="N",
                      help="predicted vs real success on the first subtask of N chains")
    imag.add_argument("--out", default="runs/imagine", help="GIF / calibration report")
    imag.set_defaults(handler=run)


def _task_of(instruction: str) -> str | None:
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file

    for name in ("sim_instructions_eval.yaml", "sim_instructions_train.yaml"):
        for task, texts in load_instruction_file(config_file(name)).items():
            if instruction in texts:
                return task
    return None


def run(args: argparse.Namespace) -> int:
    from lumos_core.runs import OutputError, writable_dir

    if (args.instruction is None) == (args.calibrate is None):
        raise OutputError("lumos imagine: give --instruction (a dry run) or --calibrate N "
                          "(a calibration report)")
    out = writable_dir(args.out)
    if args.calibrate:
        return _calibrate(args, out)
    from lumos_core.config import SimConfig
    from lumos_core.imagination import dry_run
    from lumos_core.media import save_gif
    from lumos_core.policy import LumosPolicy
    from lumos_core.sim.chains import load_chains
    from lumos_core.sim.env import PlayTableEnv

    policy = LumosPolicy(args.checkpoint, seed=args.seed)
    task = _task_of(args.instruction)
    if task is None:     # an instruction of neither file: the task its grounding names
        grounded = policy.ground(args.instruction)
        task = grounded.task if grounded is not None else None
    with PlayTableEnv(SimConfig(render=True)) as env:
        if args.chain is not None:
            chain = load_chains()[args.chain]
            env.reset(options={"scene_obs": chain["scene_obs"], "robot_obs": chain["robot_obs"]})
        else:
            env.reset(seed=args.seed)
        r = dry_run(policy, env, args.instruction, task, args.horizon, args.samples,
                    args.seed, args.steps, video=policy.cfg.world_model.obs_mode == "state")
    frames = r.pop("frames", None)
    if r["predicted_tasks"] is not None:
        counts = {}
        for tasks in r["predicted_tasks"]:
            for t in tasks or ["nothing"]:
                counts[t] = counts.get(t, 0) + 1
        imagined = ", ".join(f"{t} in {n}/{r['samples']}" for t, n in sorted(counts.items()))
        print(f"imagined ({r['samples']} futures of {r['horizon']} steps, "
              f"{r['imagine_ms']:.0f} ms): {imagined}")
    if task is not None and r["predicted_success"] is not None:
        print(f"predicted success of {task}: {r['predicted_success']:.2f}")
    real = (f"completed {task or ', '.join(r['real_tasks'])} after {r['real_steps']} steps"
            if r["real_success"] else f"not completed in {args.steps} steps")
    print(f"real: {real}")
    (out / "dry_run.json").write_text(json.dumps(r, indent=1))
    if frames:
        print(f"imagined | real: {save_gif(out / 'imagined_vs_real.gif', frames, 15)}")
    return 0


def _calibrate(args: argparse.Namespace, out: Path) -> int:
    from lumos_core.imagination import calibration, plot_reliability
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.chains import load_chains

    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    report = calibration(args.checkpoint, load_chains()[: args.calibrate], instructions,
                         args.horizon, args.samples, args.seed, args.steps)
    (out / "calibration.json").write_text(json.dumps(report, indent=1))
    plot_reliability(report, out / "reliability.png")
    print(f"{report['n']} first subtasks: real success {report['real_success_rate']:.2f}, "
          f"mean predicted {report['mean_predicted']:.2f}; 'predicted >= 0.5': precision "
          f"{report['precision']:.2f}, recall {report['recall']:.2f}; calibration error "
          f"{report['calibration_error']:.2f}; imagination {report['imagine_ms_median']:.0f} ms "
          f"median, {report['imagine_ms_p95']:.0f} ms p95")
    print(f"report: {out / 'calibration.json'}, {out / 'reliability.png'}")
    return 0
