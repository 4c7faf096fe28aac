"""`lumos collect`: scripted play data from the simulator, written in the CALVIN format.

Episodes are planned up front (fixed length, a seed each), so the dataset does not depend on
the number of workers and an interrupted collection resumes where it stopped: committed episodes
are kept, the rest are recorded again with the same seeds. Each worker owns one simulator and
writes its episode's frames into a staging directory; the parent commits episodes in order.
When every episode is in, language annotations (hindsight, a configurable fraction of frames)
and CALVIN's ``statistics.yaml`` are written.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lumos_core.config import CollectConfig, SimConfig
from lumos_core.data.calvin import (LANG_DIR, LANG_FILE, SplitWriter, append_annotations,
                                    merge_moments, moments,
                                    read_annotations, read_episode_ids, read_episode_meta,
                                    write_statistics)

SPLITS = ("training", "validation")
_WORKER: dict = {}


class CollectError(RuntimeError):
    """The output directory holds a dataset collected with other settings."""


def plan_episodes(cfg: CollectConfig) -> list[dict]:
    """Every episode to record: split, index within the split, length, seed."""
    n = math.ceil(cfg.frames / cfg.episode_length)
    if n == 1 and cfg.validation_fraction > 0:
        raise CollectError(
            f"collect.frames={cfg.frames} with collect.episode_length={cfg.episode_length} is "
            "one episode, and validation needs episodes of its own (a split is never cut "
            f"inside an episode): ask for at least {2 * cfg.episode_length} frames, a shorter "
            "collect.episode_length, or collect.validation_fraction=0 (training only)")
    n_val = min(n - 1, round(n * cfg.validation_fraction)) if n > 1 else 0
    if cfg.validation_fraction > 0 and n > 1:
        n_val = max(n_val, 1)
    lengths = [cfg.episode_length] * n
    lengths[-1] = cfg.frames - cfg.episode_length * (n - 1)
    plan, counters = [], defaultdict(int)
    for i, length in enumerate(lengths):
        split = "validation" if i >= n - n_val else "training"
        plan.append({"split": split, "index": counters[split], "length": length,
                     "seed": cfg.seed * 1_000_003 + i})
        counters[split] += 1
    return plan


def _init_worker(sim_cfg: dict, collect_cfg: dict) -> None:
    from lumos_core.sim.env import PlayTableEnv
    from lumos_core.sim.play import PlayRecorder

    env = PlayTableEnv(SimConfig(**sim_cfg))
    _WORKER["recorder"] = PlayRecorder(env, CollectConfig(**collect_cfg), np.random.default_rng())


def _record(job: dict) -> dict:
    recorder = _WORKER["recorder"]
    recorder.rng = recorder.expert.rng = np.random.default_rng(job["seed"])
    frames, events = recorder.episode(job["length"], job["seed"])
    SplitWriter.write_frames(Path(job["staging"]), job["start"], frames)
    for event in events:
        event["start"] += job["start"]
        event["end"] += job["start"]
    return {**job, "events": events, "moments": moments(frames)}


#: settings that only shape the language annotations: changing them re-annotates, no re-recording
ANNOTATION_KEYS = ("lang_density", "lang_window", "lang_align")
#: shortest task-aligned annotated window (the agents' shortest expert window)
MIN_LANG_WINDOW = 20


def _check_settings(root: Path, sim_cfg: SimConfig, cfg: CollectConfig) -> None:
    settings = {"sim": asdict(sim_cfg), "collect": {k: v for k, v in asdict(cfg).items()
                                                    if k != "workers"
                                                    and k not in ANNOTATION_KEYS}}
    settings = json.loads(json.dumps(settings))          # tuples as lists, as stored
    path = root / "collect.json"
    if path.exists():
        # as recorded: a setting added later at the value that version behaved with
        old_sim, old_collect = recorded_settings(root)
        old = json.loads(json.dumps({"sim": asdict(old_sim), "collect": asdict(old_collect)}))
        diff = [f"{section}.{key}: {old[section][key]!r} -> {value!r}"
                for section in settings for key, value in settings[section].items()
                if old[section][key] != value]
        if diff:
            raise CollectError(f"{root} holds data collected with other settings ("
                               + "; ".join(diff) + "); use another output directory")
    else:
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2))


def recorded_settings(root: str | Path) -> tuple[SimConfig, CollectConfig]:
    """The simulator and collection settings a dataset was recorded with."""
    path = Path(root) / "collect.json"
    if not path.exists():
        raise CollectError(f"{path} does not exist: {root} was not written by `lumos collect`")
    from lumos_core.config import LumosConfig

    data = json.loads(path.read_text())
    # older files: retired keys dropped, lists back to tuples, later settings at their default
    cfg = LumosConfig.from_stored({"sim": data["sim"], "collect": data["collect"]})
    return cfg.sim, cfg.collect


def collect(root: str | Path, sim_cfg: SimConfig, cfg: CollectConfig,
            instructions: dict[str, list[str]], encoder=None, progress: bool = True) -> dict:
    """Record (or finish recording) the dataset at ``root``; returns a summary."""
    from tqdm import tqdm

    root = Path(root)
    _check_settings(root, sim_cfg, cfg)
    plan = plan_episodes(cfg)
    # a split the plan has no episode for is not created (an empty validation/ is refused
    # by train-wm)
    writers = {split: SplitWriter(root / split) for split in SPLITS
               if any(job["split"] == split for job in plan)}
    todo = []
    for job in plan:
        writer = writers[job["split"]]
        done = len(writer.episodes)
        if job["index"] < done:
            continue
        todo.append(job)
    offsets = defaultdict(int)
    for job in plan:
        job["start"] = offsets[job["split"]]
        offsets[job["split"]] += job["length"]
    total = sum(j["length"] for j in plan)
    bar = tqdm(total=total, initial=total - sum(j["length"] for j in todo), unit="frame",
               desc="collect", disable=not progress, smoothing=0.05)
    if todo:
        for job in todo:
            job["staging"] = str(writers[job["split"]].staging_dir())
        ctx = mp.get_context("spawn")
        with ctx.Pool(min(cfg.workers, len(todo)), initializer=_init_worker,
                      initargs=(asdict(sim_cfg), asdict(cfg))) as pool:
            for result in pool.imap(_record, todo):
                writer = writers[result["split"]]
                writer.commit(Path(result["staging"]), result["start"], result["length"],
                              {"seed": result["seed"], "events": result["events"],
                               "moments": result["moments"]})
                bar.update(result["length"])
    bar.close()
    return finish(root, cfg, instructions, encoder)


def finish(root: Path, cfg: CollectConfig, instructions: dict[str, list[str]],
           encoder=None) -> dict:
    """Write statistics and the hindsight language annotations of every split.

    Annotations are written once per annotation setting (``lang_density``, ``lang_window``):
    asking for another setting replaces them (the frames stay as they are).
    """
    splits = [split for split in SPLITS if (root / split).is_dir()]
    metas = {split: read_episode_meta(root / split) for split in splits}
    wanted = {k: getattr(cfg, k) for k in ANNOTATION_KEYS}
    marker = root / "annotations.json"
    if not marker.exists() or json.loads(marker.read_text()) != wanted:
        # annotations of unknown or other settings: write them anew (frames stay)
        for split in splits:
            (root / split / LANG_DIR / LANG_FILE).unlink(missing_ok=True)
    stats = merge_moments([m["moments"] for m in metas.get("training", [])] or
                          [m["moments"] for m in metas.get("validation", [])])
    summary = {"root": str(root)}
    for split in splits:
        write_statistics(root / split, stats)
        events = [e for m in metas[split] for e in m["events"]]
        frames = sum(m["moments"]["actions"]["n"] for m in metas[split])
        existing = read_annotations(root / split)
        added = 0
        if not existing["info"]["indx"] and events and cfg.lang_density > 0:
            added = annotate(root / split, events, frames, cfg, instructions, encoder)
        tasks = defaultdict(int)
        for event in events:
            tasks[event["task"]] += 1
        summary[split] = {"frames": frames, "episodes": len(metas[split]),
                          "completed_tasks": dict(sorted(tasks.items())),
                          "annotations": len(existing["info"]["indx"]) + added}
    (root / "summary.json").write_text(json.dumps(summary, indent=2))
    marker.write_text(json.dumps(wanted))
    return summary


def annotate(split_dir: Path, events: list[dict], frames: int,
             cfg: CollectConfig, instructions: dict[str, list[str]], encoder=None) -> int:
    """Annotate windows ending where the oracle saw a task completed (starting where the
    expert began it, with ``lang_align``), with a random training paraphrase:
    ``round(lang_density * frames)`` windows (CALVIN's density: one per ~100 frames), or every
    completion when there are fewer. Tasks are visited round-robin so every
    task gets annotations; windows may overlap (as CALVIN's do)."""
    rng = np.random.default_rng(cfg.seed + 7)
    episode_starts = [int(s) for s, _ in read_episode_ids(split_dir)]
    by_task = defaultdict(list)
    for event in events:
        by_task[event["task"]].append(event)
    for items in by_task.values():
        rng.shuffle(items)
    target = max(1, round(cfg.lang_density * frames))
    chosen = []
    order = sorted(by_task)
    while len(chosen) < target and any(by_task.values()):
        for task in order:
            if not by_task[task] or len(chosen) >= target:
                continue
            event = by_task[task].pop()
            ep_start = max(s for s in episode_starts if s <= event["end"])
            start = event["end"] - cfg.lang_window + 1
            if cfg.lang_align:
                start = max(start, min(event["start"], event["end"] - MIN_LANG_WINDOW + 1))
            start = max(ep_start, start)
            chosen.append((start, event["end"], task))
    missing = sorted({t for _, _, t in chosen} - set(instructions))
    if missing:
        raise CollectError(f"no training instructions for tasks {missing}")
    texts = [instructions[t][rng.integers(len(instructions[t]))] for _, _, t in chosen]
    if encoder is None:
        from lumos_core.language import LanguageEncoder

        encoder = LanguageEncoder()
    emb = encoder.encode(texts)
    append_annotations(split_dir, [(s, e) for s, e, _ in chosen], texts,
                       [t for _, _, t in chosen], emb)
    return len(chosen)
