"""The `lumos` command: one entry point, one subcommand per job.

    lumos --help
    lumos config show --preset cpu --set world_model.deter=256
    lumos checkpoint info runs/wm/final
    lumos embed "open the drawer"
    lumos demo
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from lumos_core.config import ConfigError

Handler = Callable[[argparse.Namespace], int]


def add_config_args(parser: argparse.ArgumentParser, default_preset: str = "paper") -> None:
    """The preset/override options shared by every command that takes a config."""
    parser.add_argument("--preset", default=default_preset,
                        help=f"named preset from config/lumos.yaml (default: {default_preset})")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. --set world_model.deter=256 "
                             "(repeatable)")
    parser.add_argument("--presets-file", default=None,
                        help="read presets from this YAML instead of config/lumos.yaml")


def config_from_args(args: argparse.Namespace):
    """Build the validated config an invocation asked for."""
    from lumos_core.config import load_config

    return load_config(args.preset, args.overrides, args.presets_file)


def _config_show(args: argparse.Namespace) -> int:
    from lumos_core.config import describe

    config = config_from_args(args)
    if args.json:
        print(json.dumps(config.to_dict(), indent=2))
    else:
        print(f"# preset: {args.preset}; overrides: {args.overrides or 'none'}")
        print(describe(config), end="")
    return 0


def _checkpoint_info(args: argparse.Namespace) -> int:
    from lumos_core.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.path)
    count = sum(t.numel() for t in ckpt.tensors.values())
    print(f"checkpoint:     {ckpt.path}")
    print(f"kind:           {ckpt.kind}")
    print(f"format version: {ckpt.meta['format_version']}")
    print(f"created:        {ckpt.meta.get('created')}")
    print(f"code version:   {ckpt.meta.get('code_version')}")
    print(f"language model: {ckpt.language_model_id}")
    print(f"parameters:     {count:,}")
    for module in ckpt.modules:
        n = sum(t.numel() for t in ckpt.state_dict(module).values())
        print(f"  {module:<24} {n:>12,}")
    print(f"normalization:  {', '.join(ckpt.normalization) or 'none'}")
    print(f"training state: {'yes' if ckpt.training_state() is not None else 'no'}")
    return 0


def _checkpoint_export(args: argparse.Namespace) -> int:
    from lumos_core.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(args.source)
    modules = {name: ckpt.state_dict(name) for name in ckpt.modules}
    save_checkpoint(args.destination, kind=ckpt.kind, modules=modules, config=ckpt.config,
                    normalization=ckpt.normalization,
                    language_model_id=ckpt.language_model_id,
                    extra={**ckpt.extra, "exported_from": str(ckpt.path)})
    print(f"exported {ckpt.path} -> {args.destination} (weights only, no optimiser state)")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from lumos_core.language import LanguageEncoder

    encoder = LanguageEncoder()
    vectors = encoder.encode(args.text)
    for text, vector in zip(args.text, vectors):
        head = ", ".join(f"{v:+.3f}" for v in vector[:6])
        print(f"{text!r}: dim {vector.shape[0]}, [{head}, ...]")
    if len(args.text) > 1:
        sims = vectors @ vectors.T
        print("cosine similarity:")
        for i, text in enumerate(args.text):
            print(f"  {text[:40]:<40} " + " ".join(f"{s:.3f}" for s in sims[i]))
    return 0


def _collect(args: argparse.Namespace) -> int:
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.collect import collect

    cfg = config_from_args(args)
    out = args.out or cfg.data.dataset
    instructions = load_instruction_file(args.instructions or
                                         config_file("sim_instructions_train.yaml"))
    summary = collect(out, cfg.sim, cfg.collect, instructions)
    for split in ("training", "validation"):
        s = summary[split]
        print(f"{split}: {s['frames']} frames, {s['episodes']} episodes, "
              f"{sum(s['completed_tasks'].values())} completed tasks, "
              f"{s['annotations']} language annotations")
    print(f"dataset: {out}")
    return 0


def _chains(args: argparse.Namespace) -> int:
    from lumos_core.sim.chains import generate_chains, save_chains

    chains = generate_chains(args.count, args.seed, args.workers)
    save_chains(args.out, chains, args.seed)
    print(f"wrote {len(chains)} chains to {args.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from lumos_core.evaluation import evaluate, markdown_table
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.chains import load_chains

    cfg = config_from_args(args)
    chains = load_chains(args.chains_file)[: args.chains]
    instructions = load_instruction_file(args.instructions or
                                         config_file("sim_instructions_eval.yaml"))
    report = evaluate(args.policy, chains, instructions, args.seeds, args.out, args.workers,
                      args.videos, args.max_steps, cfg.sim, render=args.videos > 0)
    print(markdown_table({args.policy: report}), end="")
    if args.out:
        print(f"report: {args.out}/results.md")
    return 0


def _ladder(args: argparse.Namespace) -> int:
    from lumos_core import ladder

    if args.rung == "replay":
        r = ladder.replay(args.dataset, args.split, args.events, args.seed)
        print(f"rung (a) replay of recorded actions: {r['re_completed']}/{r['replayed']} "
              f"completions re-completed ({100 * r['rate']:.1f} %); starting with a block in "
              f"the hand (not restorable by a reset): {r['held_start']['re_completed']}/"
              f"{r['held_start']['replayed']}")
        for task, v in r["per_task"].items():
            print(f"  {task}: {v['success']}/{v['total']}")
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / "replay.json").write_text(json.dumps(r, indent=2))
        return 0
    if args.rung == "reward":
        if not args.features:
            print("lumos: ladder reward needs --features", file=sys.stderr)
            return 2
        rows = ladder.reward_separation(args.features, seed=args.seed)
        print("| first latent | reward latent | normalisation | expert actions | holding still "
              "| random | hold / expert |\n|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['first_latent']} | {r['reward_latent']} | {r['reward_norm']} | "
                  f"{r['expert']:.3f} | "
                  f"{r['hold']:.3f} | {r['random']:.3f} | {r['hold_over_expert']:.2f} |")
        return 0
    from lumos_core.evaluation import evaluate, markdown_table, per_task_table
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim.chains import load_chains

    if not args.out:
        print("lumos: ladder state-bc needs --out (the trained network's directory)",
              file=sys.stderr)
        return 2
    info = ladder.train_state_bc(args.dataset, args.out, args.goal, args.steps, seed=args.seed)
    print(f"trained on {info['windows']} annotated windows ({info['frames']} frames), "
          f"{info['steps']} steps in {info['train_seconds']:.0f} s, final MSE "
          f"{info['final_mse']:.4f}")
    chains = load_chains()[: args.chains]
    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    report = evaluate(args.out, chains, instructions, [args.seed], Path(args.out) / "eval",
                      args.workers)
    name = f"state BC ({args.goal} goal)"
    print(markdown_table({name: report}), end="")
    print(per_task_table({name: report}), end="")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    from lumos_core.config import SimConfig

    if args.target == "latency":
        from lumos_core.netns import ensure_loopback_only

        ensure_loopback_only()
        from lumos_ros.latency_benchmark import run, table

        print(table(run(args.checkpoint, args.preset, args.trigger, args.seconds, args.rate,
                        args.out)), end="")
    elif args.target == "policy":
        from lumos_core.agent_benchmark import measure, table

        presets = args.presets or ["state", "cpu"]
        print(table([measure(p, args.threads) for p in presets]), end="")
    elif args.target == "agents":
        from lumos_core.benchmark_agents import run

        result = run(args.profile, args.out or f"runs/benchmark_agents_{args.profile}",
                     args.dataset_root, args.world_model)
        print(f"report: {args.out or f'runs/benchmark_agents_{args.profile}'}/report.md "
              f"({result['timings']['total_min']:.1f} min)")
    elif args.target == "efficiency":
        from lumos_core.benchmark_agents import efficiency

        if not args.features:
            print("lumos: benchmark efficiency needs --features", file=sys.stderr)
            return 2
        out = args.out or "runs/efficiency"
        from lumos_core.benchmark_agents import CPU_RECIPE

        efficiency(args.features, out, tuple(args.levels), tuple(args.variants),
                   args.minutes, args.chains, args.parallel, args.workers,
                   recipe=tuple(CPU_RECIPE) + tuple(args.recipe_set))
        print(Path(out, "efficiency.md").read_text(), end="")
    elif args.target == "world-model":
        from lumos_core.wm_benchmark import benchmark, table

        presets = args.presets or ["debug", "state", "cpu", "paper"]
        print(table(benchmark(presets, args.device or "cpu", args.threads, args.train_steps)),
              end="")
    elif args.target == "expert":
        from lumos_core.sim.benchmark import expert_success, expert_table

        print(expert_table(expert_success(args.trials, args.seed, args.workers)), end="")
    elif args.target == "sim":
        from lumos_core.sim.benchmark import control_throughput

        print("| cameras | steps/s (1 process) | ms/step |\n|---|---|---|")
        for sim in (SimConfig(static_size=64, gripper_size=64),
                    SimConfig(static_size=200, gripper_size=84),
                    SimConfig(render=False)):
            r = control_throughput(sim, args.steps)
            name = f"{r['static']}x{r['static']} + {r['gripper']}x{r['gripper']}" \
                if r["render"] else "none (state only)"
            print(f"| {name} | {r['steps_per_s']:.1f} | {r['ms_per_step']:.2f} |", flush=True)
    elif args.target == "data":
        import time

        from lumos_core.data.dataset import PlayData

        data = PlayData(args.dataset, args.image_size)
        if getattr(data, "pack_seconds", None):
            print(f"packed {len(data)} frames in {data.pack_seconds:.1f} s "
                  f"({len(data) / data.pack_seconds:.0f} frames/s)")
        rng = __import__("numpy").random.default_rng(0)
        starts = data.valid_starts(args.seq_len)
        started = time.perf_counter()
        for _ in range(args.batches):
            data.batch(rng.choice(starts, args.batch_size), args.seq_len)
        seconds = time.perf_counter() - started
        frames = args.batches * args.batch_size * args.seq_len
        print(f"random windows {args.batch_size}x{args.seq_len}: {frames / seconds:.0f} frames/s")
    return 0


def _threads(args: argparse.Namespace) -> None:
    """CPU threads per process: 1 by default (2 threads under load ran 1.2-3x slower here)."""
    import torch

    torch.set_num_threads(args.threads)


def _train_wm(args: argparse.Namespace) -> int:
    from lumos_core.train_wm import WorldModelTrainer
    from lumos_core.wm_report import open_loop, plot_training_curves, write_open_loop

    cfg = config_from_args(args)
    _threads(args)
    trainer = WorldModelTrainer(cfg, args.out, device=args.device)
    if args.resume:
        trainer.resume()
        print(f"resumed at step {trainer.step}")

    def report(t) -> None:
        data = t.val or t.train
        summary = write_open_loop(open_loop(t.model, data, horizon=args.report_horizon),
                                  t.run_dir / "open_loop" / f"step_{t.step:08d}")
        key = "mse" if "mse" in summary else "rgb_static"
        curve = summary[key] if key == "mse" else summary[key]["mse"]
        t.log("open_loop", {"mse_first": curve[0], "mse_last": curve[-1],
                            "mse_mean": sum(curve) / len(curve)})

    final = trainer.fit(report=report if args.report_horizon > 0 else None,
                        max_minutes=args.max_minutes)
    if trainer.dist.main and final is not None:
        print(f"checkpoint: {final} (step {trainer.step}, "
              f"{trainer.frames_per_s:.0f} frames/s this run)")
        if args.export:
            print(f"deployable copy: {trainer.save(args.export, resumable=False)}")
        if (trainer.run_dir / "metrics.jsonl").exists():
            plot_training_curves(trainer.run_dir / "metrics.jsonl",
                                 trainer.run_dir / "curves.png")
            print(f"curves: {trainer.run_dir / 'curves.png'}")
    return 0


def _wm_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lumos_core.data.dataset import PlayData
    from lumos_core.featurize import load_world_model
    from lumos_core.wm_report import open_loop, write_open_loop

    model, cfg = load_world_model(args.checkpoint)
    dataset = Path(args.dataset or cfg.data.dataset) / args.split
    data = PlayData(dataset, cfg.data.image_size, images=cfg.world_model.obs_mode == "vision")
    summary = write_open_loop(open_loop(model, data, args.context, args.horizon,
                                        args.sequences, args.seed), args.out)
    curves = {k: v["mse"] if isinstance(v, dict) else v for k, v in summary.items()
              if k == "mse" or isinstance(v, dict)}
    for name, curve in curves.items():
        marks = [1, 10, 50, len(curve)]
        text = ", ".join(f"step {m}: {curve[m - 1]:.4f}" for m in marks if m <= len(curve))
        print(f"{name} MSE  {text}")
    print(f"report: {args.out}")
    return 0


def _featurize(args: argparse.Namespace) -> int:
    from lumos_core.featurize import featurize

    _threads(args)
    summary = featurize(args.checkpoint, args.dataset, args.out, device=args.device or "cpu")
    for split, n in summary["splits"].items():
        print(f"{split}: {n} frames x {summary['feat_dim']} features -> {args.out}/{split}")
    return 0


def _train_agent(args: argparse.Namespace) -> int:
    from lumos_core.train_agent import AgentTrainer

    cfg = config_from_args(args)
    _threads(args)
    trainer = AgentTrainer(cfg, args.features, args.out, device=args.device or "cpu")
    if args.resume:
        trainer.resume()
        print(f"resumed at step {trainer.step}")
    final = trainer.fit(max_minutes=args.max_minutes)
    print(f"checkpoint: {final} (step {trainer.step}, {trainer.windows_per_s:.0f} windows/s)")
    return 0


def _annotate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lumos_core.annotate import run

    if args.count < 1 or args.length < 2:
        raise ConfigError("--count must be >= 1 and --length >= 2")
    summary = run(Path(args.dataset) / args.split, args.count, args.length, args.seed,
                  args.gif_dir)
    del summary        # stopping early is not an error: the next run resumes
    return 0


def _bag2dataset(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lumos_core.data.recording import AssemblerConfig
    from lumos_ros.bag2dataset import BagTopics, convert, write_report

    topics = BagTopics(args.static_topic, args.gripper_topic, args.pose_topic,
                       args.joints_topic, args.action_topic, args.state_topic,
                       args.episode_topic)
    cfg = AssemblerConfig(args.rate, args.max_age, args.static_size, args.gripper_size)
    split = Path(args.out) / args.split
    report = convert(args.bags, split, topics, cfg, args.slop, args.gap)
    write_report(report, split / "bag2dataset_report.json")
    print(report.text())
    print(f"report: {split / 'bag2dataset_report.json'}")
    return 0 if report.episodes else 1


def _demo(args: argparse.Namespace) -> int:
    from lumos_core.netns import ensure_loopback_only

    ensure_loopback_only()
    from lumos_ros.demo import run_demo

    return run_demo(args.checkpoint, args.seconds_per_task, args.out, args.chain, args.timeout)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="lumos", description="LUMOS: language-conditioned imitation learning in a learned "
                                  "world model (training, evaluation and ROS 2 deployment).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    config = sub.add_parser("config", help="show the resolved configuration")
    config_sub = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = config_sub.add_parser("show", help="print a preset with overrides, documented")
    add_config_args(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    show.set_defaults(handler=_config_show)

    ckpt = sub.add_parser("checkpoint", help="inspect checkpoints")
    ckpt_sub = ckpt.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = ckpt_sub.add_parser("info", help="verify a checkpoint and print what it holds")
    info.add_argument("path", help="checkpoint directory")
    info.set_defaults(handler=_checkpoint_info)
    export = ckpt_sub.add_parser("export", help="copy a checkpoint without optimiser/RNG state")
    export.add_argument("source")
    export.add_argument("destination")
    export.set_defaults(handler=_checkpoint_export)

    embed = sub.add_parser("embed", help="embed instructions with all-MiniLM-L6-v2 (offline)")
    embed.add_argument("text", nargs="+", help="one or more instructions")
    embed.set_defaults(handler=_embed)

    collect = sub.add_parser("collect", help="record scripted play data in the CALVIN format")
    add_config_args(collect)
    collect.add_argument("--out", help="dataset directory (default: data.dataset)")
    collect.add_argument("--instructions", help="YAML task -> training paraphrases")
    collect.set_defaults(handler=_collect)

    chains = sub.add_parser("chains", help="generate feasible 5-task evaluation chains")
    chains.add_argument("--count", type=int, default=1000)
    chains.add_argument("--seed", type=int, default=0)
    chains.add_argument("--workers", type=int, default=2)
    chains.add_argument("--out", default="config/sim_chains.json")
    chains.set_defaults(handler=_chains)

    evaluate = sub.add_parser("evaluate", help="CALVIN multistep evaluation in the simulator")
    add_config_args(evaluate)
    evaluate.add_argument("--policy", required=True,
                          help="'expert', 'random' or a policy checkpoint directory")
    evaluate.add_argument("--chains", type=int, default=1000, help="first N chains")
    evaluate.add_argument("--chains-file", default=None, help="default: config/sim_chains.json")
    evaluate.add_argument("--seeds", type=int, nargs="+", default=[0])
    evaluate.add_argument("--workers", type=int, default=2)
    evaluate.add_argument("--videos", type=int, default=0, help="GIFs of the first N chains")
    evaluate.add_argument("--max-steps", type=int, default=360)
    evaluate.add_argument("--instructions", help="YAML task -> evaluation paraphrases")
    evaluate.add_argument("--out", default=None, help="report directory")
    evaluate.set_defaults(handler=_evaluate)

    lad = sub.add_parser("ladder", help="learning-ladder rungs: replay the data's actions, "
                         "behaviour cloning on the true state")
    lad.add_argument("rung", choices=["replay", "state-bc", "reward"])
    lad.add_argument("--features", default=None, help="reward: output of `lumos featurize`")
    lad.add_argument("--dataset", default="data/sim_play", help="dataset root")
    lad.add_argument("--split", default="training")
    lad.add_argument("--events", type=int, default=300, help="replay: completions replayed")
    lad.add_argument("--goal", choices=["task", "language"], default="task",
                     help="state-bc: one-hot task (rung b) or sentence embedding (rung c)")
    lad.add_argument("--steps", type=int, default=6000, help="state-bc: updates")
    lad.add_argument("--chains", type=int, default=200, help="state-bc: evaluation chains")
    lad.add_argument("--workers", type=int, default=2)
    lad.add_argument("--seed", type=int, default=0)
    lad.add_argument("--out", default=None, help="report / network directory")
    lad.set_defaults(handler=_ladder)

    train_wm = sub.add_parser("train-wm", help="train the world model on a CALVIN-format dataset")
    add_config_args(train_wm, "state")
    train_wm.add_argument("--out", required=True, help="run directory")
    train_wm.add_argument("--resume", action="store_true", help="continue the run in --out")
    train_wm.add_argument("--device", default=None, help="e.g. cpu, cuda (default: auto)")
    train_wm.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    train_wm.add_argument("--max-minutes", type=float, default=None,
                          help="stop (and checkpoint) after this much wall time")
    train_wm.add_argument("--export", default=None, metavar="NAME",
                          help="also write checkpoints/NAME without optimiser state")
    train_wm.add_argument("--report-horizon", type=int, default=45,
                          help="open-loop report horizon at each evaluation (0: off)")
    train_wm.set_defaults(handler=_train_wm)

    report = sub.add_parser("wm-report", help="open-loop prediction report of a world model")
    report.add_argument("checkpoint")
    report.add_argument("--dataset", default=None, help="default: the dataset it trained on")
    report.add_argument("--split", default="validation")
    report.add_argument("--context", type=int, default=5)
    report.add_argument("--horizon", type=int, default=195)
    report.add_argument("--sequences", type=int, default=4)
    report.add_argument("--seed", type=int, default=0)
    report.add_argument("--out", required=True)
    report.set_defaults(handler=_wm_report)

    feat = sub.add_parser("featurize", help="world-model latents of every frame of a dataset")
    feat.add_argument("checkpoint")
    feat.add_argument("--dataset", required=True)
    feat.add_argument("--out", required=True)
    feat.add_argument("--device", default=None)
    feat.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    feat.set_defaults(handler=_featurize)

    agent = sub.add_parser("train-agent", help="train the LUMOS agent (or an ablation/baseline) "
                                               "on featurized data")
    add_config_args(agent, "state")
    agent.add_argument("--features", required=True, help="output of `lumos featurize`")
    agent.add_argument("--out", required=True, help="run directory")
    agent.add_argument("--resume", action="store_true")
    agent.add_argument("--device", default=None)
    agent.add_argument("--threads", type=int, default=1)
    agent.add_argument("--max-minutes", type=float, default=None)
    agent.set_defaults(handler=_train_agent)

    bench = sub.add_parser("benchmark", help="print performance / quality figures")
    bench.add_argument("target",
                       choices=["sim", "expert", "data", "world-model", "policy", "agents",
                                "latency", "efficiency"])
    bench.add_argument("--profile", choices=["quick", "cpu", "full", "smoke"], default="quick",
                       help="agents: quick (~1 h on 2 cores) or full (3 seeds, 1000 chains)")
    bench.add_argument("--out", default=None,
                       help="agents: report directory; latency: latency.json and node logs")
    bench.add_argument("--checkpoint", default=None,
                       help="latency: vision policy checkpoint (default: random weights of "
                            "--preset)")
    bench.add_argument("--preset", default="cpu", help="latency: preset of the random policy")
    bench.add_argument("--trigger", nargs="+", default=["latent", "timer"],
                       choices=["latent", "timer"], help="latency: policy_publisher modes")
    bench.add_argument("--seconds", type=float, default=20.0, help="latency: measured seconds")
    bench.add_argument("--rate", type=float, default=15.0, help="latency: camera/control Hz")
    bench.add_argument("--dataset-root", default="data/sim_play",
                       help="agents: CALVIN-format dataset (collected when missing)")
    bench.add_argument("--world-model", default=None,
                       help="agents: reuse this world-model checkpoint instead of training one")
    bench.add_argument("--presets", nargs="+", help="world-model/policy: presets to measure")
    bench.add_argument("--device", default=None, help="world-model: cpu or cuda")
    bench.add_argument("--threads", type=int, default=1, help="world-model: CPU threads")
    bench.add_argument("--train-steps", type=int, default=3, help="world-model: timed updates")
    bench.add_argument("--trials", type=int, default=50, help="expert: trials per task")
    bench.add_argument("--steps", type=int, default=300, help="sim: control steps timed")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--workers", type=int, default=2)
    bench.add_argument("--features", default=None, help="efficiency: output of featurize")
    bench.add_argument("--levels", type=int, nargs="+", default=[2, 10, 50, 150],
                       help="efficiency: language windows per task")
    bench.add_argument("--variants", nargs="+", default=["LUMOS", "GCBC"],
                       help="efficiency: variants of `benchmark agents`")
    bench.add_argument("--minutes", type=float, default=5.0, help="efficiency: per training")
    bench.add_argument("--chains", type=int, default=100, help="efficiency: chains per run")
    bench.add_argument("--parallel", type=int, default=2, help="efficiency: trainings at once")
    bench.add_argument("--recipe-set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="efficiency: override on top of the CPU recipe (repeatable), e.g. "
                            "agent.bc_warmup=500 for shorter trainings")
    bench.add_argument("--dataset", default="data/sim_play/training", help="data: a split")
    bench.add_argument("--image-size", type=int, default=64)
    bench.add_argument("--batch-size", type=int, default=16)
    bench.add_argument("--seq-len", type=int, default=50)
    bench.add_argument("--batches", type=int, default=50)
    bench.set_defaults(handler=_benchmark)

    ann = sub.add_parser("annotate", help="describe random windows of a dataset in language "
                         "(terminal; GIFs; resumable)")
    ann.add_argument("dataset", help="dataset root (CALVIN format)")
    ann.add_argument("--split", default="training", choices=["training", "validation"])
    ann.add_argument("--count", type=int, default=50, help="windows in this session")
    ann.add_argument("--length", type=int, default=64, help="frames per window (CALVIN: 64)")
    ann.add_argument("--seed", type=int, default=0)
    ann.add_argument("--gif-dir", default="runs/annotate", help="where the window GIFs go")
    ann.set_defaults(handler=_annotate)

    bag = sub.add_parser("bag2dataset", help="convert rosbag2 bags (MCAP/sqlite3) of the camera, "
                         "state and action topics into a CALVIN-format dataset split")
    bag.add_argument("bags", nargs="+", help="bag directories (or .mcap files), in order")
    bag.add_argument("--out", required=True, help="dataset root (episodes are appended)")
    bag.add_argument("--split", default="training", choices=["training", "validation"])
    for name, default in (("static-topic", "/static_cam/image_raw"),
                          ("gripper-topic", "/wrist_cam/image_raw"),
                          ("pose-topic", "/lumos/ee_pose"), ("joints-topic", "/joint_states"),
                          ("action-topic", "/lumos/executed_action"),
                          ("state-topic", "/lumos/sim_state"),
                          ("episode-topic", "/lumos/episode_event")):
        bag.add_argument(f"--{name}", default=default)
    bag.add_argument("--rate", type=float, default=15.0, help="frames per second written")
    bag.add_argument("--max-age", type=float, default=0.2,
                     help="s: a frame whose robot state is older is dropped")
    bag.add_argument("--slop", type=float, default=0.02, help="s: camera pairing")
    bag.add_argument("--static-size", type=int, default=200, help="0: as recorded")
    bag.add_argument("--gripper-size", type=int, default=84, help="0: as recorded")
    bag.add_argument("--gap", type=float, default=0.5,
                     help="s: without episode events, a camera gap this long ends an episode")
    bag.set_defaults(handler=_bag2dataset)

    demo = sub.add_parser("demo", help="run the end-to-end demo in a loopback-only namespace")
    demo.add_argument("--timeout", type=float, default=120.0,
                      help="seconds to wait for the nodes (default: 120)")
    demo.add_argument("--checkpoint", default=None,
                      help="policy checkpoint (default: checkpoints/policy_state_demo)")
    demo.add_argument("--seconds-per-task", type=float, default=25.0)
    demo.add_argument("--chain", type=int, default=None,
                      help="evaluation chain to play (default: the first whose tasks the "
                           "policy knows in language)")
    demo.add_argument("--out", default="runs/demo", help="video and node logs")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lumos` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"lumos: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lumos: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - top-level: one clear line, not a traceback
        from lumos_core.checkpoint import CheckpointError
        from lumos_core.language import LanguageModelMissingError

        from lumos_core.data.calvin import DatasetError
        from lumos_core.data.recording import RecordingError
        from lumos_core.ladder import LadderError
        from lumos_core.sim.collect import CollectError

        if isinstance(exc, (CheckpointError, LanguageModelMissingError, FileNotFoundError,
                            DatasetError, CollectError, RecordingError, LadderError)):
            print(f"lumos: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
