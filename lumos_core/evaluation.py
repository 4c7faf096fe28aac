"""CALVIN multistep evaluation on the simulated play table (`lumos evaluate`).

For each chain: reset the scene to the chain's initial state; for each of its 5 tasks, reset the
policy, give it an evaluation paraphrase (never seen in training) and let it act for up to 360
steps, checking the task oracle after every step; the chain stops at the first failure.
Metrics as in CALVIN: the share of chains with >= i tasks completed in a row (i = 1..5), the
average chain length, and per-task success. Several seeds (paraphrase choice and policy
sampling), parallel workers, JSON + markdown + a bar plot, and optional GIFs with the
instruction overlaid.

Any policy with ``reset()`` and ``step(obs, goal) -> 7-D relative action`` can be evaluated;
policies are named by a spec string so that worker processes can build their own:
``expert`` (the scripted expert told the task: an upper bound), ``random`` (a lower bound), or
the directory of a ``policy`` checkpoint (:class:`lumos_core.policy.LumosPolicy`).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from lumos_core.config import SimConfig
from lumos_core.media import save_gif
from lumos_core.sim.chains import CHAIN_LENGTH
from lumos_core.sim.env import CONTROL_HZ, PlayTableEnv, relative_action
from lumos_core.sim.expert import ScriptedExpert
from lumos_core.sim.tasks import SceneState, completed_tasks

MAX_STEPS = 360


class Policy(Protocol):
    """The CALVIN model contract."""

    def reset(self) -> None:
        """Called at the start of every subtask."""

    def step(self, obs: dict, goal: str) -> np.ndarray:
        """7-D relative action in CALVIN convention for the current observation."""


class RandomPolicy:
    """Uniform random deltas; the gripper toggles with probability 0.1 per step."""

    needs_images = False

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.gripper = 1.0

    def reset(self) -> None:
        """Nothing to reset."""

    def step(self, obs: dict, goal: str) -> np.ndarray:
        """A random action."""
        if self.rng.random() < 0.1:
            self.gripper = -self.gripper
        return np.concatenate([self.rng.uniform(-1, 1, 6), [self.gripper]])


class ExpertPolicy:
    """The scripted expert *told the task* (it looks the instruction up): an upper bound."""

    needs_images = False

    def __init__(self, env: PlayTableEnv, instruction_to_task: dict[str, str],
                 seed: int = 0) -> None:
        self.env = env
        self.lookup = instruction_to_task
        self.expert = ScriptedExpert(env, np.random.default_rng(seed))
        self.task = None

    def reset(self) -> None:
        """Forget the current plan."""
        self.task = None
        self.started = False
        self.released = False
        self.expert.abandon()

    def step(self, obs: dict, goal: str) -> np.ndarray:
        """Follow the expert's plan for the task the instruction names.

        The previous subtask may have ended mid-plan (the oracle saw it done): if the new task
        is not feasible yet, the expert first lets go of what it holds and rises.
        """
        task = self.lookup[goal]
        if self.task != task:
            self.reset()
            self.task = task
        if not self.started and self.expert.done:
            if self.expert.feasible(task):
                self.expert.start(task)
                self.started = True
            elif not self.released:
                self.expert.start_release()
                self.released = True
        target = self.expert.act()
        robot = obs["robot_obs"]
        if target is None:
            return np.concatenate([np.zeros(6), [robot[14]]])
        return relative_action(*target, robot[:3], robot[3:6])


def _task_of(instructions: dict[str, list[str]]) -> dict[str, str]:
    """instruction -> task (for the policies that are told the task)."""
    return {text: task for task, texts in instructions.items() for text in texts}


def _is_state_bc(spec: str) -> bool:
    from lumos_core.ladder import is_state_bc

    return is_state_bc(spec)


def make_policy(spec: str, env: PlayTableEnv, instructions: dict[str, list[str]], seed: int,
                grounding: str = "task"):
    """Build the policy named by ``spec`` for this worker's env (``grounding``: how a
    checkpoint's policy grounds instructions, :mod:`lumos_core.grounding`)."""
    if spec == "random":
        return RandomPolicy(seed)
    if spec == "expert":
        return ExpertPolicy(env, _task_of(instructions), seed)
    if _is_state_bc(spec):
        # a learning-ladder network on the true state (lumos_core.ladder)
        from lumos_core.ladder import StateBCPolicy

        if spec not in _POLICIES:
            _POLICIES.clear()
            _POLICIES[spec] = StateBCPolicy(spec, _task_of(instructions))
        _POLICIES[spec].seed(seed)
        return _POLICIES[spec]
    if Path(spec).is_dir():
        # loading a checkpoint costs far more than a chain: one policy per worker process
        from lumos_core.policy import LumosPolicy

        key = (spec, grounding)
        if key not in _POLICIES:
            _POLICIES.clear()
            _POLICIES[key] = LumosPolicy(spec, grounding=grounding)
        policy = _POLICIES[key]
        policy.seed(seed)
        return policy
    raise ValueError(f"unknown policy {spec!r}; use 'expert', 'random', a policy checkpoint "
                     "directory or a `lumos ladder state-bc` directory")


def policy_needs_images(spec: str) -> bool:
    """Whether the policy named by ``spec`` reads camera images."""
    if spec in ("expert", "random") or _is_state_bc(spec):
        return False
    from lumos_core.checkpoint import read_meta

    return read_meta(spec)["config"]["world_model"]["obs_mode"] == "vision"


@dataclass(frozen=True)
class EvalJob:
    """One chain under one seed."""

    policy: str
    chain_index: int
    chain: dict
    seed: int
    video: bool
    max_steps: int
    sim: dict
    instructions: dict
    grounding: str = "task"
    executor: dict | None = None


_ENV: dict = {}
_POLICIES: dict = {}


def _env(sim: dict, video: bool) -> PlayTableEnv:
    key = (tuple(sorted(sim.items())), video)
    if key not in _ENV:
        for env in _ENV.values():
            env.close()
        _ENV.clear()
        _ENV[key] = PlayTableEnv(SimConfig(**{**sim, "render": sim["render"] or video}))
    return _ENV[key]


def overlay_instruction(frame: np.ndarray, text: str, ok: bool | None) -> np.ndarray:
    """A 256x256 copy of ``frame`` with ``text`` on top (green: done, red: failed)."""
    import cv2

    image = cv2.resize(frame, (256, 256), interpolation=cv2.INTER_NEAREST)
    color = (255, 255, 255) if ok is None else ((60, 220, 60) if ok else (230, 60, 60))
    cv2.rectangle(image, (0, 0), (256, 22), (0, 0, 0), -1)
    cv2.putText(image, text[:40], (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, color, 1,
                cv2.LINE_AA)
    return image


def _executor_step(env: PlayTableEnv, policy, loop, action):
    """One control step through the action_executor's arithmetic (:class:`ExecutorLoop`), as
    the ROS loop runs it: the target it sends, passed through sim_robot's quaternion round
    trip, and the executed action the world-model filter conditions on."""
    from lumos_core.executor import euler_from_quaternion, quaternion_from_euler

    step = loop.apply(action, *env.tcp_pose())
    euler = euler_from_quaternion(quaternion_from_euler(*step.update.euler))
    out = env.step_absolute(step.update.position, euler, 1.0 if step.gripper_open else -1.0)
    if hasattr(policy, "set_previous_action"):
        policy.set_previous_action(step.executed)
    return out


def run_chain(env: PlayTableEnv, policy, chain: dict, instructions: dict[str, list[str]],
              rng: np.random.Generator, max_steps: int = MAX_STEPS,
              frames: list | None = None, executor: dict | None = None) -> dict:
    """Evaluate one chain; appends annotated video frames to ``frames`` when given.
    ``executor``: action_executor parameters (:func:`~lumos_core.executor.executor_parameters`)
    -- every action then goes through the executor's limits and gripper debouncer as in ROS."""
    obs, _ = env.reset(options={"scene_obs": np.asarray(chain["scene_obs"], np.float32),
                                "robot_obs": np.asarray(chain["robot_obs"], np.float32)})
    loop = None
    if executor is not None:
        from lumos_core.executor import ExecutorLoop

        loop = ExecutorLoop.from_parameters(executor)
    results = []
    for task in chain["tasks"]:
        goal = instructions[task][rng.integers(len(instructions[task]))]
        policy.reset()
        start = SceneState(env.scene_obs(), env.held_block())
        success, steps = False, 0
        for steps in range(1, max_steps + 1):
            action = policy.step(obs, goal)
            if loop is None:
                obs, *_ = env.step(action)
            else:
                obs, *_ = _executor_step(env, policy, loop, action)
            if frames is not None:
                frames.append(overlay_instruction(obs["rgb_static"], goal, None))
            if task in completed_tasks(start, SceneState(obs["scene_obs"], env.held_block())):
                success = True
                break
        if frames is not None and frames:
            frames.extend([overlay_instruction(obs["rgb_static"], goal, success)] * 8)
        result = {"task": task, "instruction": goal, "success": success, "steps": steps}
        grounded = getattr(policy, "last_grounding", None)
        if grounded is not None:
            result["grounded"] = {"task": grounded.task, "sentence": grounded.sentence,
                                  "confidence": round(grounded.confidence, 4)}
        results.append(result)
        if not success:
            break
    return {"completed": sum(r["success"] for r in results), "subtasks": results}


def _init_worker() -> None:
    """One torch thread per evaluation worker: with the default (one per core), each worker's
    idle OpenMP threads spin on the cores the other workers need."""
    import torch

    torch.set_num_threads(1)


def _run_job(job: EvalJob) -> dict:
    env = _env(job.sim, job.video)
    rng = np.random.default_rng(job.seed * 1_000_003 + job.chain_index)
    policy = make_policy(job.policy, env, job.instructions, int(rng.integers(2 ** 31)),
                         job.grounding)
    frames = [] if job.video else None
    result = run_chain(env, policy, job.chain, job.instructions, rng, job.max_steps, frames,
                       job.executor)
    result.update(chain=job.chain_index, seed=job.seed)
    if frames:
        result["frames"] = frames
    return result


def metrics(results: list[dict]) -> dict:
    """CALVIN metrics of one seed's chain results."""
    completed = np.array([r["completed"] for r in results])
    per_task = defaultdict(lambda: [0, 0])
    # later subtasks start where the previous one ended (mid-motion, often low or holding a
    # block): the same task at position 1 and at positions 2-5 tells whether those start
    # states, not the task, break the chains
    per_position = [[0, 0] for _ in range(CHAIN_LENGTH)]
    later = defaultdict(lambda: [0, 0])
    for r in results:
        for k, sub in enumerate(r["subtasks"]):
            per_task[sub["task"]][0] += sub["success"]
            per_task[sub["task"]][1] += 1
            per_position[k][0] += sub["success"]
            per_position[k][1] += 1
            if k:
                later[sub["task"]][0] += sub["success"]
                later[sub["task"]][1] += 1
    return {
        "chains": len(results),
        "success_rate": [float(np.mean(completed >= i)) for i in range(1, CHAIN_LENGTH + 1)],
        "avg_len": float(completed.mean()),
        "completed_hist": np.bincount(completed, minlength=CHAIN_LENGTH + 1).tolist(),
        "per_task": {t: {"success": s, "total": n, "rate": s / n,
                         "later_success": later[t][0], "later_total": later[t][1]}
                     for t, (s, n) in sorted(per_task.items())},
        "per_position": [{"success": s, "attempts": n, "rate": s / n if n else None}
                         for s, n in per_position],
    }


def confidence_intervals(hist) -> dict:
    """95 % half-widths from the pooled chain outcomes (``hist[k]``: chains with k tasks
    completed): normal approximation for the average length, binomial for each rate."""
    hist = np.asarray(hist, np.float64)
    n = max(hist.sum(), 1.0)
    k = np.arange(len(hist))
    mean = (hist * k).sum() / n
    var = (hist * (k - mean) ** 2).sum() / max(n - 1, 1.0)
    rates = [hist[i:].sum() / n for i in range(1, len(hist))]
    return {"avg_len": float(1.96 * np.sqrt(var / n)),
            "success_rate": [float(1.96 * np.sqrt(p * (1 - p) / n)) for p in rates]}


def aggregate(per_seed: list[dict]) -> dict:
    """Mean and std over seeds."""
    sr = np.array([m["success_rate"] for m in per_seed])
    avg = np.array([m["avg_len"] for m in per_seed])
    tasks = sorted({t for m in per_seed for t in m["per_task"]})
    per_task = {}
    for t in tasks:
        rates = [m["per_task"][t]["rate"] for m in per_seed if t in m["per_task"]]
        per_task[t] = {"mean": float(np.mean(rates)), "std": float(np.std(rates)),
                       "total": int(sum(m["per_task"][t]["total"] for m in per_seed
                                        if t in m["per_task"]))}
    hist = np.sum([m["completed_hist"] for m in per_seed], 0)
    ci = confidence_intervals(hist)
    return {"seeds": len(per_seed), "success_rate_mean": sr.mean(0).tolist(),
            "chains_total": int(hist.sum()), "avg_len_ci95": ci["avg_len"],
            "success_rate_ci95": ci["success_rate"],
            "success_rate_std": sr.std(0).tolist(), "avg_len_mean": float(avg.mean()),
            "avg_len_std": float(avg.std()), "per_task": per_task}


#: Per-chain results, one JSON line each, appended as the chains finish (``--resume``).
CHAIN_LOG = "chains.jsonl"


class ResumeError(ValueError):
    """A previous evaluation in the report directory does not match the one requested."""


def _read_chain_log(log: Path) -> tuple[list[dict], list[dict], list[int]]:
    """The headers, the chain results and the numbers of the incomplete lines (the one being
    written when the process died) of a per-chain log."""
    headers, rows, incomplete = [], [], []
    for number, line in enumerate(log.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            incomplete.append(number)
            continue
        if "header" in entry:
            headers.append(entry["header"])
        else:
            rows.append(entry)
    return headers, rows, incomplete


def _grounding_of(record: dict) -> str:
    """The grounding of an evaluation's header or report; those written before grounding
    existed have none: they embedded the instructions as given."""
    return record.get("grounding", "off")


def _same_path(a: str, b: str) -> bool:
    """Two policy specs naming the same checkpoint directory (or the same built-in)."""
    return a == b or (Path(a).exists() and Path(a).resolve() == Path(b).resolve())


def _previous_results(out_dir: Path, policy: str, max_steps: int,
                      instructions: dict[str, list[str]], chains: list[dict],
                      grounding: str = "task", executor: list[str] | None = None) -> list[dict]:
    """Chain results of an earlier evaluation in ``out_dir`` (its finished report's
    ``chains_detail`` and the per-chain log of an interrupted one) that this evaluation can
    reuse: same policy, step limit and grounding, and every reused chain's tasks and sentences
    consistent with ``chains`` and ``instructions``. Raises :class:`ResumeError` naming what
    differs."""
    found: dict[tuple[int, int], dict] = {}
    headers = []
    report = out_dir / "results.json"
    if report.is_file():
        try:
            data = json.loads(report.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResumeError(f"--resume: {report} is not a readable evaluation report "
                              f"({exc}); move it aside to resume from the chain log") from None
        headers.append((report, data))
        for r in data.get("chains_detail", []):
            found[(r["seed"], r["chain"])] = r
    log = out_dir / CHAIN_LOG
    if log.is_file():
        log_headers, rows, incomplete = _read_chain_log(log)
        for number in incomplete:
            print(f"lumos: {log}:{number} is incomplete; that chain runs again")
        headers += [(log, header) for header in log_headers]
        for entry in rows:
            found[(entry["seed"], entry["chain"])] = entry
    for source, header in headers:
        for key, want in (("policy", policy), ("max_steps", max_steps),
                          ("grounding", grounding), ("executor", executor)):
            have = _grounding_of(header) if key == "grounding" else header.get(key)
            if key == "policy" and isinstance(have, str) and _same_path(have, want):
                continue
            if have != want:
                raise ResumeError(f"--resume: {source} is an evaluation with {key} = "
                                  f"{have!r}, this one has {want!r}; use another "
                                  f"--out or leave out --resume")
    for (seed, index), r in found.items():
        if index >= len(chains):
            continue
        tasks = [sub["task"] for sub in r["subtasks"]]
        if tasks != list(chains[index]["tasks"][:len(tasks)]):
            raise ResumeError(f"--resume: chain {index} in {out_dir} has tasks {tasks}, the "
                              f"chains file has {chains[index]['tasks']}; use another --out "
                              f"or leave out --resume")
        for sub in r["subtasks"]:
            if sub["instruction"] not in instructions.get(sub["task"], ()):
                raise ResumeError(f"--resume: chain {index} in {out_dir} was told "
                                  f"{sub['instruction']!r} for {sub['task']}, which is not "
                                  f"among this evaluation's instructions; use another --out "
                                  f"or leave out --resume")
    return list(found.values())


def evaluate(policy: str, chains: list[dict], instructions: dict[str, list[str]],
             seeds: list[int], out_dir: str | Path | None = None, workers: int = 1,
             videos: int = 0, max_steps: int = MAX_STEPS, sim: SimConfig | None = None,
             render: bool = False, progress: bool = True, resume: bool = False,
             grounding: str = "task", executor: list[str] | None = None) -> dict:
    """Evaluate ``policy`` on ``chains`` for every seed; writes reports to ``out_dir``.

    With ``out_dir``, every finished chain is appended to ``out_dir/chains.jsonl`` at once, so
    that an interrupted evaluation loses at most the chains in flight; ``resume`` reuses the
    chains an earlier evaluation in ``out_dir`` finished (its log or its report; with the same
    policy, step limit, chains and instructions) and runs only the others -- also to extend an
    evaluation to more chains or seeds. ``grounding``: how a checkpoint's policy grounds the
    instructions (``task`` or ``off``: :mod:`lumos_core.grounding`). ``executor``: the
    action_executor's parameter files (:data:`~lumos_core.executor.EXECUTOR_FILES`): every
    action goes through its limits and gripper debouncer as in the ROS loop."""
    from dataclasses import asdict

    from tqdm import tqdm

    from lumos_core.grounding import check_mode

    check_mode(grounding)
    executor_params = None
    if executor is not None:
        from lumos_core.executor import ExecutorLoop, executor_parameters

        executor = [str(f) for f in executor]
        executor_params = executor_parameters(executor)
        ExecutorLoop.from_parameters(executor_params)      # a bad file fails here, not in a worker
    sim = sim or SimConfig(render=render)
    sim_dict = {**asdict(sim), "render": render or policy_needs_images(policy)}
    jobs = [EvalJob(policy, i, chain, seed, seed == seeds[0] and i < videos, max_steps,
                    sim_dict, instructions, grounding, executor_params)
            for seed in seeds for i, chain in enumerate(chains)]
    results, previous = [], []
    if resume:
        if out_dir is None:
            raise ResumeError("--resume needs the report directory (--out) of the evaluation "
                              "to continue")
        wanted = {(job.seed, job.chain_index) for job in jobs}
        previous = _previous_results(Path(out_dir), policy, max_steps, instructions, chains,
                                     grounding, executor)
        results = [r for r in previous if (r["seed"], r["chain"]) in wanted]
        done = {(r["seed"], r["chain"]) for r in results}
        jobs = [job for job in jobs if (job.seed, job.chain_index) not in done]
        if progress:
            print(f"resume: {len(results)} chain(s) reused from {out_dir}, {len(jobs)} to run")
    elif out_dir is not None and (Path(out_dir) / CHAIN_LOG).is_file():
        print(f"lumos: starting a new evaluation in {out_dir}: its earlier chain log is "
              f"replaced (--resume would have reused it)", file=sys.stderr)
    # the new log keeps every earlier chain, also those outside this evaluation's range
    log = _chain_log(out_dir, policy, max_steps, previous, grounding, executor)
    bar = tqdm(total=len(jobs), desc=f"evaluate {Path(policy).name}", unit="chain",
               disable=not progress)

    def finished(result: dict) -> None:
        results.append(result)
        if log is not None:
            log.write(json.dumps({k: v for k, v in result.items() if k != "frames"}) + "\n")
            log.flush()
        bar.update()

    try:
        if workers > 1 and jobs:
            with mp.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
                for result in pool.imap_unordered(_run_job, jobs):
                    finished(result)
        else:
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)        # as in the workers: the networks are tiny
            try:
                for job in jobs:
                    finished(_run_job(job))
            finally:
                torch.set_num_threads(threads)
    except BaseException:
        if log is not None:
            print(f"\nlumos: evaluation stopped; {len(results)} finished chain(s) are kept in "
                  f"{log.name}: the same command with --resume runs only the others",
                  file=sys.stderr)
        raise
    finally:
        bar.close()
        if log is not None:
            log.close()
    results.sort(key=lambda r: (r["seed"], r["chain"]))
    per_seed = [metrics([r for r in results if r["seed"] == s]) for s in seeds]
    report = {"policy": policy, "chains": len(chains), "seeds": seeds, "max_steps": max_steps,
              "grounding": grounding, "per_seed": per_seed, "summary": aggregate(per_seed)}
    if executor is not None:
        report["executor"] = executor
    if out_dir is not None:
        try:
            write_report(Path(out_dir), report, results)
            report["written_to"] = str(out_dir)
        except OSError as exc:
            # the chains ran: keep their results somewhere, and say where
            import tempfile

            fallback = tempfile.mkdtemp(prefix="lumos-evaluate-")
            print(f"lumos: could not write the evaluation report to {out_dir} "
                  f"({exc.strerror or exc}); writing it to {fallback} instead", file=sys.stderr)
            write_report(Path(fallback), report, results)
            report["written_to"] = fallback
    return report


def _chain_log(out_dir: str | Path | None, policy: str, max_steps: int, reused: list[dict],
               grounding: str = "task", executor: list[str] | None = None):
    """The per-chain log of this evaluation, opened for appending: a header line, then the
    reused chains (so that the log alone can resume it again). None when it cannot be written
    (the report falls back to a temporary directory at the end)."""
    if out_dir is None:
        return None
    import os

    path = Path(out_dir) / CHAIN_LOG
    header = {"policy": policy, "max_steps": max_steps, "grounding": grounding}
    if executor is not None:
        header["executor"] = executor
    lines = [json.dumps({"header": header})]
    lines += [json.dumps({k: v for k, v in r.items() if k != "frames"}) for r in reused]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the old log is replaced only once the new one holds everything reused from it
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, path)
        return open(path, "a")
    except OSError:
        return None


def load_report(path: str | Path) -> dict:
    """A finished evaluation's ``results.json`` (``path``: the file or its directory), with
    its per-chain outcomes -- or, for a directory without a report, the chains its log
    (``chains.jsonl``) holds so far (``partial``: an evaluation running or interrupted).
    Raises :class:`ReportError` naming the file when it is not one."""
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    if path.is_dir() and not file.exists() and (path / CHAIN_LOG).is_file():
        # an evaluation still running (or interrupted): the chains it has finished so far
        headers, rows, _ = _read_chain_log(path / CHAIN_LOG)
        header = headers[0] if headers else {}
        return {"policy": header.get("policy"), "grounding": _grounding_of(header),
                "partial": True, "chains_detail": rows}
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise ReportError(f"{file}: no such evaluation report (expected the --out directory "
                          f"of `lumos evaluate` or its results.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{file}: not a JSON evaluation report ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("chains_detail"), list):
        raise ReportError(f"{file}: has no per-chain outcomes ('chains_detail'); expected a "
                          f"results.json written by `lumos evaluate`")
    return data


class ReportError(ValueError):
    """A file that is not a usable evaluation report."""


def paired_comparison(reports: dict[str, dict], reference: str | None = None) -> dict:
    """Policies compared on the chains they were all evaluated on.

    The chains differ a lot in difficulty (the same policy: 0.39 on chains 0-99, 0.71 on
    100-199; docs/agents.md, session 13), so rows evaluated on different numbers of chains
    are not comparable. This keeps the (seed, chain) pairs every report holds, gives each
    policy's average length on them, and each policy's difference to ``reference`` (default:
    the first) as the mean of the per-chain differences with its 95 % interval (normal
    approximation; pairing removes the chains' shared difficulty from the spread), and how
    many chains each did better on."""
    if len(reports) < 2:
        raise ReportError("a comparison needs at least two evaluation reports")
    names = list(reports)
    reference = reference or names[0]
    if reference not in reports:
        raise ReportError(f"reference {reference!r} is not among the reports {names}")
    outcomes = {name: {(r["seed"], r["chain"]): r["completed"] for r in rep["chains_detail"]}
                for name, rep in reports.items()}
    common = sorted(set.intersection(*(set(o) for o in outcomes.values())))
    if not common:
        raise ReportError("the reports share no (seed, chain): evaluate them on the same "
                          "chains and seeds")
    ref = np.array([outcomes[reference][k] for k in common], np.float64)
    rows = []
    for name in names:
        x = np.array([outcomes[name][k] for k in common], np.float64)
        d = x - ref
        half = (1.96 * d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
        rows.append({"name": name, "policy": reports[name].get("policy"),
                     "grounding": _grounding_of(reports[name]),
                     "chains_total": len(outcomes[name]), "avg_len": float(x.mean()),
                     "ci95": float(1.96 * x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1
                     else float("nan"),
                     "diff": float(d.mean()), "diff_ci95": float(half),
                     "better": int((d > 0).sum()), "worse": int((d < 0).sum())})
    return {"reference": reference, "pairs": len(common), "rows": rows}


def paired_table(comparison: dict) -> str:
    """Markdown table of :func:`paired_comparison`."""
    ref = comparison["reference"]
    lines = [f"{comparison['pairs']} (seed, chain) pairs evaluated for every policy; "
             f"differences to {ref}, paired per chain (95 % intervals).", "",
             f"| policy | instructions grounded | chains evaluated | avg. len. on the common "
             f"chains | difference to {ref} | chains better / worse than {ref} |",
             "|---|---|---|---|---|---|"]
    for r in comparison["rows"]:
        diff = ("–" if r["name"] == ref else
                f"{r['diff']:+.2f} ± {r['diff_ci95']:.2f}")
        lines.append(f"| {r['name']} | {r['grounding']} | {r['chains_total']} | "
                     f"{r['avg_len']:.2f} ± "
                     f"{r['ci95']:.2f} | {diff} | "
                     + ("–" if r["name"] == ref else f"{r['better']} / {r['worse']}") + " |")
    return "\n".join(lines) + "\n"


def markdown_table(reports: dict[str, dict]) -> str:
    """A CALVIN-style table: one row per policy, success of 1..5 in a row and avg. length,
    each with its 95 % confidence interval over chains (pooled over seeds)."""
    lines = ["| policy | 1 | 2 | 3 | 4 | 5 | avg. len. (95 % CI) | chains |",
             "|---|---|---|---|---|---|---|---|"]
    for name, report in reports.items():
        s = report["summary"]
        ci = s.get("success_rate_ci95", [0.0] * CHAIN_LENGTH)
        cells = [f"{100 * m:.1f} ± {100 * c:.1f} %" for m, c in zip(s["success_rate_mean"], ci)]
        avg = f"{s['avg_len_mean']:.2f} ± {s.get('avg_len_ci95', 0.0):.2f}"
        if s["seeds"] > 1:
            avg += f" (seed std {s['avg_len_std']:.2f})"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {avg} | "
                     f"{s['chains_total'] if 'chains_total' in s else report.get('chains', '')} |")
    return "\n".join(lines) + "\n"


def per_task_table(reports: dict[str, dict]) -> str:
    """Per-task success (mean over seeds) of each policy."""
    names = list(reports)
    tasks = sorted({t for r in reports.values() for t in r["summary"]["per_task"]})
    lines = ["| task | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for t in tasks:
        cells = []
        for name in names:
            entry = reports[name]["summary"]["per_task"].get(t)
            cells.append(f"{100 * entry['mean']:.0f} % ({entry['total']})" if entry else "–")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def position_table(report: dict) -> str:
    """Conditional success at each chain position (pooled over seeds), and per task at the
    first position against the later ones (which start where the previous subtask ended)."""
    def fmt(success: int, attempts: int) -> str:
        return f"{100 * success / attempts:.0f} % ({attempts})" if attempts else "–"

    seeds = report["per_seed"]
    if not seeds or "per_position" not in seeds[0]:
        return ""
    cells = []
    for k in range(CHAIN_LENGTH):
        s = sum(m["per_position"][k]["success"] for m in seeds)
        n = sum(m["per_position"][k]["attempts"] for m in seeds)
        cells.append(fmt(s, n))
    lines = ["| position | " + " | ".join(str(k + 1) for k in range(CHAIN_LENGTH)) + " |",
             "|---|" + "---|" * CHAIN_LENGTH,
             "| success given reached | " + " | ".join(cells) + " |", "",
             "| task | first subtask | later subtasks |", "|---|---|---|"]
    tasks = sorted({t for m in seeds for t in m["per_task"]})
    for t in tasks:
        rows = [m["per_task"][t] for m in seeds if t in m["per_task"]]
        first_s = sum(r["success"] - r.get("later_success", 0) for r in rows)
        first_n = sum(r["total"] - r.get("later_total", 0) for r in rows)
        later_s = sum(r.get("later_success", 0) for r in rows)
        later_n = sum(r.get("later_total", 0) for r in rows)
        lines.append(f"| {t} | {fmt(first_s, first_n)} | {fmt(later_s, later_n)} |")
    return "\n".join(lines) + "\n"


def plot_reports(reports: dict[str, dict], path: Path) -> None:
    """Bar plot of chain success rates (1..5 in a row) per policy, with std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / max(len(reports), 1)
    x = np.arange(1, CHAIN_LENGTH + 1)
    for k, (name, report) in enumerate(reports.items()):
        s = report["summary"]
        ax.bar(x + (k - (len(reports) - 1) / 2) * width, 100 * np.array(s["success_rate_mean"]),
               width, yerr=100 * np.array(s["success_rate_std"]), capsize=2,
               label=f"{name} (avg. len. {s['avg_len_mean']:.2f})")
    ax.set_xlabel("tasks completed in a row")
    ax.set_ylabel("chains (%)")
    ax.set_ylim(0, 105)
    ax.set_xticks(x)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out_dir: Path, report: dict, results: list[dict]) -> None:
    """results.json, results.md, success.png and the rollout GIFs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for result in results:
        frames = result.get("frames")
        if frames:
            save_gif(out_dir / f"rollout_chain{result['chain']:04d}.gif", frames,
                     CONTROL_HZ)
    name = Path(report["policy"]).name
    detail = [{k: v for k, v in r.items() if k != "frames"} for r in results]
    (out_dir / "results.json").write_text(json.dumps({**report, "chains_detail": detail},
                                                     indent=1))
    text = (f"# Evaluation of `{report['policy']}`\n\n{report['chains']} chains x "
            f"{len(report['seeds'])} seeds, up to {report['max_steps']} steps per subtask, "
            f"instructions grounded: {report['grounding']}"
            + (f", every action through the action_executor's arithmetic with "
               f"{' + '.join(report['executor'])}" if report.get("executor") else "")
            + ".\n\n" + markdown_table({name: report}) + "\n## Per task\n\n"
            + per_task_table({name: report}) + "\n## Per chain position\n\n"
            + position_table(report))
    (out_dir / "results.md").write_text(text)
    plot_reports({name: report}, out_dir / "success.png")
