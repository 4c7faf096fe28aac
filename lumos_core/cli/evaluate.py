"""`lumos evaluate`: CALVIN's multistep (5-task chain) evaluation in the simulator."""

from __future__ import annotations

import argparse

from lumos_core.cli.common import NON_NEGATIVE, POSITIVE, add_config_args, config_from_args


def register(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="CALVIN multistep evaluation in the simulator")
    add_config_args(evaluate)
    evaluate.add_argument("--policy", required=True,
                          help="'expert', 'random' or a policy checkpoint directory")
    evaluate.add_argument("--chains", type=POSITIVE, default=1000, help="first N chains")
    evaluate.add_argument("--chains-file", default=None, help="default: config/sim_chains.json")
    evaluate.add_argument("--seeds", type=int, nargs="+", default=[0])
    evaluate.add_argument("--workers", type=POSITIVE, default=2)
    evaluate.add_argument("--videos", type=NON_NEGATIVE, default=0,
                          help="GIFs of the first N chains")
    evaluate.add_argument("--max-steps", type=POSITIVE, default=360,
                          help="control steps per subtask")
    evaluate.add_argument("--instructions", help="YAML task -> evaluation paraphrases")
    evaluate.add_argument("--out", default=None,
                          help="report directory (each finished chain is logged there at once)")
    evaluate.add_argument("--grounding", choices=("task", "off"), default="task",
                          help="task: an instruction is replaced by the training paraphrase of "
                               "the task a classifier over its MiniLM token embeddings names "
                               "(fitted on the checkpoint's training instructions); off: "
                               "embedded as given (all evaluations before session 14)")
    evaluate.add_argument("--executor", nargs="+", metavar="PARAMS",
                          help="send every action through the ROS action_executor's arithmetic "
                               "(safety limits, workspace box, gripper debouncer; the executed "
                               "action conditions the filter) with these parameter files, "
                               "applied in order: 'sim' (the simulated table's, as `make demo` "
                               "runs), 'robot' (config/action_executor.yaml alone) or YAML "
                               "files -- what the executor's settings cost a policy")
    evaluate.add_argument("--resume", action="store_true",
                          help="reuse the chains an earlier (interrupted or shorter) evaluation "
                               "in --out finished; run only the others")
    evaluate.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.evaluation import evaluate, markdown_table
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.runs import writable_dir
    from lumos_core.sim.chains import load_chains

    cfg = config_from_args(args)
    if args.out:
        writable_dir(args.out)
    chains = load_chains(args.chains_file)[: args.chains]
    instructions = load_instruction_file(args.instructions or
                                         config_file("sim_instructions_eval.yaml"))
    report = evaluate(args.policy, chains, instructions, args.seeds, args.out, args.workers,
                      args.videos, args.max_steps, cfg.sim, render=args.videos > 0,
                      resume=args.resume, grounding=args.grounding,
                      executor=_executor_files(args.executor))
    print(markdown_table({args.policy: report}), end="")
    if args.out:
        print(f"report: {report['written_to']}/results.md")
    return 0


def _executor_files(names: list[str] | None) -> list[str] | None:
    """--executor's files: 'sim' and 'robot' name the bringups' files (EXECUTOR_FILES)."""
    if not names:
        return None
    from lumos_core.executor import EXECUTOR_FILES

    files = []
    for name in names:
        files += EXECUTOR_FILES.get(name, (name,))
    return files
