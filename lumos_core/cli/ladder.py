"""`lumos ladder`: the learning ladder's rungs (docs/agents.md), each printing its figure."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lumos_core.cli.common import POSITIVE, add_threads, set_threads


def register(sub) -> None:
    lad = sub.add_parser("ladder", help="learning-ladder rungs: replay the data's actions, "
                         "behaviour cloning on the true state, the DITTO reward")
    lad.add_argument("rung", choices=["replay", "state-bc", "reward", "trace",
                                      "through", "ditto-optimum", "ditto-progress",
                                      "from-play", "grounding", "fit"])
    lad.add_argument("--policy", default=None, nargs="+",
                     help="trace: a policy (checkpoint, state-bc directory, 'expert' or "
                     "'random'); ditto-progress: an imagining agent's checkpoint (e.g. the end "
                     "of its BC warm-up); fit: one or more policy checkpoints (compared on "
                     "the same windows)")
    lad.add_argument("--history", type=int, default=16,
                     help="from-play, fit: recorded frames before each start that the policy's "
                     "filter reads first (as in training)")
    lad.add_argument("--robot-start", choices=["recorded", "neutral"], default="recorded",
                     help="from-play: the robot starts where the expert began the task, or "
                     "at the evaluation's neutral pose in the same recorded scene")
    lad.add_argument("--observe-every", type=POSITIVE, default=1,
                     help="from-play: the policy observes the simulator every K steps and acts "
                     "on the world model's prediction in between (as in imagination)")
    lad.add_argument("--sentences", choices=["eval", "train"], default="eval",
                     help="from-play: the instruction is an evaluation paraphrase (never "
                     "trained on) or a training one")
    lad.add_argument("--task", default=None, help="trace: the task to run alone")
    lad.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                     help="ditto-optimum: agent config override, e.g. agent.reward_latent=hz "
                     "(repeatable)")
    lad.add_argument("--windows", type=POSITIVE, default=None,
                     help="ditto-optimum, ditto-progress: expert windows (default 64); fit: "
                     "windows per task (default 20)")
    lad.add_argument("--iterations", type=POSITIVE, default=150,
                     help="ditto-optimum: optimisation steps of the action sequences; "
                     "ditto-progress: training batches")
    lad.add_argument("--every", type=POSITIVE, default=25,
                     help="ditto-progress: measure the exact objective every N batches")
    lad.add_argument("--simulate", action="store_true",
                     help="ditto-optimum, ditto-progress: also execute the action sequences "
                     "in the simulator from the window's recorded start and compare the end "
                     "with the expert's")
    lad.add_argument("--world-model", default=None, help="through: the world model checkpoint "
                     "whose filtered reconstruction replaces part of --policy's true state")
    lad.add_argument("--replace", default="all", choices=["all", "robot", "scene",
                                                          "tcp-position", "tcp-orientation",
                                                          "all-but-roll-pitch"],
                     help="through: which dimensions of the true state are replaced")
    lad.add_argument("--trials", type=POSITIVE, default=12, help="trace: random start states")
    lad.add_argument("--features", default=None, help="reward, state-bc --inputs h|hz: "
                     "output of `lumos featurize` on --dataset")
    lad.add_argument("--inputs", choices=["state", "h", "hz", "decoded", "hz+decoded"],
                     default="state",
                     help="state-bc: the true state (rungs b, c), the world model's filtered "
                     "latents of the same frames (rung d0), their reconstruction of the state "
                     "by the model's decoder, or both")
    lad.add_argument("--dataset", default="data/sim_play", help="dataset root")
    lad.add_argument("--split", default="training")
    lad.add_argument("--events", type=POSITIVE, default=300,
                     help="replay, from-play: recorded completions started from")
    lad.add_argument("--goal", choices=["task", "language"], default="task",
                     help="state-bc: one-hot task (rung b) or sentence embedding (rung c)")
    lad.add_argument("--steps", type=POSITIVE, default=6000, help="state-bc: updates")
    lad.add_argument("--chains", type=POSITIVE, default=200, help="state-bc: evaluation chains")
    lad.add_argument("--workers", type=POSITIVE, default=2)
    lad.add_argument("--seed", type=int, default=0)
    lad.add_argument("--task-loss", type=float, default=0.0,
                     help="state-bc --goal language: weight of a task classifier on the "
                     "goal encoder's code (the annotations' task labels); 0 = none")
    lad.add_argument("--goal-posterior", nargs="?", const="soft", default="",
                     choices=["soft", "hard"],
                     help="with --task-loss: the action network sees the task classifier's "
                     "probabilities (soft, the default) or the one-hot of its most likely "
                     "task (hard) instead of the goal code")
    lad.add_argument("--resample-goal", action="store_true",
                     help="state-bc --goal language: each frame's goal drawn from all the "
                     "annotated paraphrases of its task, not only its window's sentence")
    lad.add_argument("--paraphrases", type=int, nargs="+", default=[1, 2, 3, 6, 12],
                     help="grounding: training paraphrases per task the rules are fitted on")
    lad.add_argument("--subsets", type=POSITIVE, default=3,
                     help="grounding: random subsets of the training paraphrases per count")
    lad.add_argument("--out", default=None, help="report / network directory")
    add_threads(lad)
    lad.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.ladder import LadderError
    from lumos_core.runs import writable_dir

    if args.rung in ("reward", "ditto-optimum", "ditto-progress") and not args.features:
        raise LadderError(f"ladder {args.rung} needs --features (the output of `lumos "
                          "featurize`)")
    if args.rung == "ditto-progress" and not args.policy:
        raise LadderError("ladder ditto-progress needs --policy (an imagining agent's "
                          "checkpoint)")
    if args.rung == "from-play" and not args.policy:
        raise LadderError("ladder from-play needs --policy")
    if args.rung == "trace" and not (args.policy and args.task):
        raise LadderError("ladder trace needs --policy and --task")
    if args.rung == "state-bc" and not args.out:
        raise LadderError("ladder state-bc needs --out (the trained network's directory)")
    if args.rung == "through" and not (args.policy and args.world_model and args.out):
        raise LadderError("ladder through needs --policy (a state-bc directory), --world-model "
                          "and --out")
    if args.rung == "fit" and not args.policy:
        raise LadderError("ladder fit needs --policy (one or more policy checkpoints)")
    if args.policy and len(args.policy) > 1 and args.rung != "fit":
        raise LadderError(f"ladder {args.rung} takes one --policy, got {len(args.policy)}")
    if args.policy and args.rung != "fit":
        args.policy = args.policy[0]
    if args.out:
        writable_dir(args.out)
    set_threads(args)
    return {"replay": _replay, "reward": _reward, "state-bc": _state_bc,
            "trace": _trace, "through": _through, "from-play": _from_play,
            "ditto-optimum": _ditto_optimum, "ditto-progress": _ditto_progress,
            "grounding": _grounding, "fit": _fit}[args.rung](args)


def _fit(args: argparse.Namespace) -> int:
    from lumos_core import ladder

    windows = args.windows or 20
    results = [ladder.action_fit(p, args.dataset, args.split, windows=windows,
                                 history=args.history, seed=args.seed) for p in args.policy]
    # a run's checkpoint step_N is named by its run directory
    names = [f"{Path(p).parent.parent.name}/{Path(p).name}" if Path(p).name.startswith("step_")
             else Path(p).name for p in args.policy]
    table = ladder.fit_table(results, names)
    print(f"teacher-forced actions on recorded {args.split} language windows of "
          f"{args.dataset} (up to {windows} per task, {args.history} frames of history; "
          "MSE over the arm's 6 dimensions, cosine of the TCP motion over the approach "
          "(first half) and the whole window):")
    print(table)
    if args.out:
        (Path(args.out) / f"fit_{args.split}.md").write_text(table)
        (Path(args.out) / f"fit_{args.split}.json").write_text(json.dumps(results, indent=2))
    return 0


def _grounding(args: argparse.Namespace) -> int:
    """Rung (c'): which task the rules name for held-out instructions (both evaluation sets),
    by training paraphrases per task."""
    from lumos_core.grounding import grounding_study, study_table
    from lumos_core.instructions import load_instruction_file
    from lumos_core.language import shared_encoder
    from lumos_core.ladder import LadderError
    from lumos_core.paths import config_file

    if any(k < 1 for k in args.paraphrases):
        raise LadderError(f"--paraphrases must be >= 1, got {args.paraphrases}")
    train = load_instruction_file(config_file("sim_instructions_train.yaml"))
    held_out = {name: load_instruction_file(config_file(name))
                for name in ("sim_instructions_eval.yaml", "sim_instructions_eval2.yaml")}
    rows = grounding_study(train, held_out, shared_encoder(), args.paraphrases, args.subsets)
    table = study_table(rows)
    print(table, end="")
    if args.out:
        (Path(args.out) / "grounding.md").write_text(table)
        print(f"report: {Path(args.out) / 'grounding.md'}")
    return 0


def _from_play(args: argparse.Namespace) -> int:
    from lumos_core import ladder

    r = ladder.from_play(args.policy, args.dataset, args.split, events=args.events,
                         history=args.history, robot_start=args.robot_start,
                         instructions=args.sentences, observe_every=args.observe_every,
                         seed=args.seed)
    start = ("the recorded robot state, the filter having read "
             f"{r['history']} recorded frames") if r["robot_start"] == "recorded" \
        else "the neutral pose in the recorded scene"
    if r["observe_every"] > 1:
        start += f"; observing every {r['observe_every']} steps, imagining in between"
    print(f"{args.policy} closed loop from {r['events']} recorded play starts ({start}; "
          f"{r['instructions']} sentences, up to {r['max_steps']} steps): {r['success']}/"
          f"{r['events']} completed ({100 * r['rate']:.1f} %), median "
          f"{r['median_steps_to_success']} steps")
    for task, v in r["per_task"].items():
        print(f"  {task}: {v['success']}/{v['total']}")
    if args.out:
        name = (f"from_play_{r['robot_start']}_{r['instructions']}_h{r['history']}"
                f"_k{r['observe_every']}.json")
        (Path(args.out) / name).write_text(json.dumps(r, indent=2))
    return 0


def _ditto_progress(args: argparse.Namespace) -> int:
    from lumos_core import ladder

    rows = ladder.ditto_progress(args.policy, args.features, args.set, updates=args.iterations,
                                 every=args.every, windows=args.windows or 64, seed=args.seed,
                                 simulate=args.simulate)
    print(f"DITTO training from {args.policy} (overrides: {' '.join(args.set) or 'none'}): "
          "the exact objective (mean actions, common noise, imagined target; the expert's "
          "actions earn 1) on fixed windows")
    if args.simulate:
        print(f"(the expert's actions executed from the same starts: real TCP end "
              f"{rows[0]['expert_tcp_end_mm']:.1f} mm from the recording, objects "
              f"{rows[0]['expert_scene_end']:.3f})")
    sim = "| real TCP end to expert's (mm, median) | real objects end (std) " \
        if args.simulate else ""
    print("| batches | exact reward | BC action MSE | training reward (since last) | "
          "training BC MSE " + sim + "|\n" + "|---" * (7 if args.simulate else 5) + "|")
    for r in rows:
        extra = f" {r['tcp_end_mm']:.1f} | {r['scene_end']:.3f} |" if args.simulate else ""
        print(f"| {r['update']} | {r['reward']:.3f} | {r['bc_mse']:.4f} | "
              f"{r['train_reward']:.3f} | {r['train_bc_mse']:.4f} |" + extra)
    if args.out:
        Path(args.out, "ditto_progress.json").write_text(json.dumps(rows, indent=1))
    return 0


def _ditto_optimum(args: argparse.Namespace) -> int:
    from lumos_core import ladder

    rows = ladder.ditto_optimum(args.features, args.set, windows=args.windows or 64,
                                iterations=args.iterations, seed=args.seed,
                                simulate=args.simulate)
    print(f"DITTO reward (agent overrides: {' '.join(args.set) or 'the state preset'}) of "
          "action sequences in imagination, and their distance to the expert's actions")
    sim = ("| real TCP end to expert's (mm, median) | real objects end to expert's (std) "
           if args.simulate else "")
    print("| actions | optimisation steps | mean reward | MSE to expert (arm) " + sim + "|\n"
          + "|---" * (6 if args.simulate else 4) + "|")
    for r in rows:
        extra = (f" {r['tcp_end_mm']:.1f} | {r['scene_end']:.3f} |" if args.simulate else "")
        print(f"| {r['actions']} | {r['steps']} | {r['reward']:.3f} | "
              f"{r['mse_to_expert']:.3f} |" + extra)
    return 0


def _through(args: argparse.Namespace) -> int:
    from lumos_core import ladder

    out = ladder.observe_through(args.policy, args.world_model, args.out, args.replace)
    return _evaluate_rung(args, str(out), f"{Path(args.policy).name} seeing {args.replace} "
                          "through the world model")


def _trace(args: argparse.Namespace) -> int:
    from lumos_core import ladder

    r = ladder.trace_task(args.policy, args.task, args.trials, args.seed)
    print(f"{args.task} ('{r['instruction']}') with {args.policy}: {r['success']}/{r['trials']} "
          f"succeeded; gripper closed in {r['closed']}, released a held block in "
          f"{r['released']}")
    if "near_block_median" in r:
        m = r["near_block_median"]
        print(f"at the block (TCP within 3 cm of its height): median {m['xy_mm']:.0f} mm off, "
              f"yaw error {m['yaw_rad']:.2f} rad")
    for row in r["rows"]:
        parts = [f"trial {row['trial']}: {'ok' if row['success'] else 'failed'} "
                 f"({row['steps']} steps)"]
        if "near_block" in row:
            n = row["near_block"]
            parts.append(f"at block {n['xy_mm']:.0f} mm / {n['yaw_rad']:.2f} rad")
        if "closed_at" in row:
            parts.append(f"closed at step {row['closed_at']}")
        if "released" in row:
            parts.append(f"released {row['released']['nearest_block_mm']:.0f} mm from the "
                         f"nearest block at z {row['released']['z']:.3f}")
        print("  " + "; ".join(parts))
    if args.out:
        (Path(args.out) / f"trace_{args.task}.json").write_text(json.dumps(r, indent=1))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from lumos_core import ladder

    r = ladder.replay(args.dataset, args.split, args.events, args.seed)
    print(f"rung (a) replay of recorded actions: {r['re_completed']}/{r['replayed']} "
          f"completions re-completed ({100 * r['rate']:.1f} %); starting with a block in "
          f"the hand (not restorable by a reset): {r['held_start']['re_completed']}/"
          f"{r['held_start']['replayed']}")
    for task, v in r["per_task"].items():
        print(f"  {task}: {v['success']}/{v['total']}")
    if args.out:
        (Path(args.out) / "replay.json").write_text(json.dumps(r, indent=2))
    return 0


def _reward(args: argparse.Namespace) -> int:
    from lumos_core import ladder

    rows = ladder.reward_separation(args.features, seed=args.seed)
    print("| first latent | reward latent | normalisation | expert actions | holding still "
          "| random | hold / expert |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['first_latent']} | {r['reward_latent']} | {r['reward_norm']} | "
              f"{r['expert']:.3f} | "
              f"{r['hold']:.3f} | {r['random']:.3f} | {r['hold_over_expert']:.2f} |")
    return 0


def _state_bc(args: argparse.Namespace) -> int:
    from lumos_core import ladder

    info = ladder.train_state_bc(args.dataset, args.out, args.goal, args.steps, seed=args.seed,
                                 inputs=args.inputs, features=args.features,
                                 resample_goal=args.resample_goal,
                                 task_loss=args.task_loss,
                                 goal_posterior=args.goal_posterior)
    print(f"inputs {info['inputs']}: trained on {info['windows']} annotated windows "
          f"({info['frames']} frames), "
          f"{info['steps']} steps in {info['train_seconds']:.0f} s, final MSE "
          f"{info['final_mse']:.4f}")
    seen = "the true state" if args.inputs == "state" else args.inputs
    return _evaluate_rung(args, args.out, f"BC on {seen} ({args.goal} goal)")


def _evaluate_rung(args: argparse.Namespace, policy: str, name: str) -> int:
    """Evaluate a state-bc directory on the first ``--chains`` chains and print its tables."""
    from lumos_core.evaluation import evaluate, markdown_table, per_task_table, position_table
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.chains import load_chains

    chains = load_chains()[: args.chains]
    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    report = evaluate(policy, chains, instructions, [args.seed], Path(policy) / "eval",
                      args.workers)
    print(markdown_table({name: report}), end="")
    print(per_task_table({name: report}), end="")
    print(position_table(report), end="")
    return 0
