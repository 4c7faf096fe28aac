"""`lumos annotate`: describe random windows of play data in language (terminal flow).

LUMOS needs < 1 % of play windows described (paper: ~2800 windows for 3 hours of teleop). This
tool samples ``count`` random windows of ``length`` frames inside recorded episodes (fixed by
``seed``), writes each as a GIF (static and wrist camera side by side) and asks for its
description on the terminal::

    [3/50] frames 1200..1263 -> runs/annotate/window_0001200_0001263.gif
    description (Enter: skip, q: quit; optional "task_name: text")> open the drawer

Every answer is appended at once, with its all-MiniLM-L6-v2 embedding, to
``<split>/lang_annotations/auto_lang_ann.npy`` (atomic replace), and the session's progress to
``<split>/lang_annotations/annotate_session.json``; stopping (q, Ctrl-C, a crash) loses nothing
already answered, and running the same command again resumes at the first unanswered window.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, TextIO

import numpy as np

from lumos_core.data.calvin import (LANG_DIR, DatasetError, _atomic_write_text,
                                    append_annotations, frame_name, read_annotations,
                                    read_episode_ids)
from lumos_core.media import save_gif

SESSION = "annotate_session.json"
TASK = re.compile(r"^([a-z][a-z0-9_]*):\s*(.+)$")


def sample_windows(episodes: np.ndarray, count: int, length: int, seed: int,
                   avoid: list[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """``count`` distinct windows (start, end inclusive) of ``length`` frames, each inside one
    episode, not overlapping ``avoid`` or each other where the data allows it."""
    long_enough = [(int(s), int(e)) for s, e in episodes if e - s + 1 >= length]
    if not long_enough:
        raise DatasetError(f"no episode has {length} frames (longest: "
                           f"{int(max((e - s + 1 for s, e in episodes), default=0))})")
    rng = np.random.default_rng(seed)
    weights = np.array([e - s + 2 - length for s, e in long_enough], float)
    taken = list(avoid)
    out: list[tuple[int, int]] = []
    for _ in range(count * 50):
        if len(out) == count:
            break
        s, e = long_enough[rng.choice(len(long_enough), p=weights / weights.sum())]
        start = int(rng.integers(s, e - length + 2))
        window = (start, start + length - 1)
        if all(window[1] < a or window[0] > b for a, b in taken):
            out.append(window)
            taken.append(window)
    return out


def window_gif(split: Path, window: tuple[int, int], out: Path, fps: float = 15.0) -> Path:
    """A GIF of the window: static camera, wrist camera scaled to the same height."""
    from lumos_core.data.dataset import resize

    frames = []
    for index in range(window[0], window[1] + 1):
        with np.load(split / frame_name(index)) as f:
            static = f["rgb_static"]
            parts = [static]
            if "rgb_gripper" in f.files:
                parts.append(resize(f["rgb_gripper"], static.shape[0]))
            frames.append(np.concatenate(parts, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    save_gif(out, frames, fps)
    return out


class UnknownTask(ValueError):
    """An answer named a task that is neither a play-table task nor already annotated."""


class AnnotationSession:
    """The windows of one (split, count, length, seed) and which of them are answered."""

    def __init__(self, split: str | Path, count: int, length: int, seed: int,
                 new_session: bool = False) -> None:
        self.split = Path(split)
        episodes = read_episode_ids(self.split)
        if not len(episodes):
            raise DatasetError(f"{self.split}: no episodes to annotate")
        self.path = self.split / LANG_DIR / SESSION
        params = {"count": count, "length": length, "seed": seed}
        state = json.loads(self.path.read_text()) if self.path.exists() else None
        if (state and state["params"] != params and not new_session
                and len(state["answered"]) < len(state["windows"])):
            p = state["params"]
            raise DatasetError(
                f"{self.path}: an unfinished session ({len(state['answered'])} of "
                f"{len(state['windows'])} windows answered) was started with --count "
                f"{p['count']} --length {p['length']} --seed {p['seed']}; resume it with those "
                "options, or pass --new-session to start another (the answers already given "
                "stay in the annotations)")
        if state and state["params"] == params:
            self.windows = [tuple(w) for w in state["windows"]]
            self.answered = {tuple(w): a for w, a in state["answered"]}
        else:
            existing = read_annotations(self.split)["info"]["indx"]
            self.windows = sample_windows(episodes, count, length, seed, existing)
            self.answered = {}
        self.params = params
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(self.path, json.dumps({
            "params": self.params, "windows": self.windows,
            "answered": [[list(w), a] for w, a in self.answered.items()]}))

    def remaining(self) -> list[tuple[int, int]]:
        return [w for w in self.windows if w not in self.answered]

    def known_tasks(self) -> set[str]:
        """Task names an answer may start with: the play table's tasks and those the split's
        annotations already use."""
        from lumos_core.sim.tasks import TASKS

        return set(TASKS) | set(read_annotations(self.split)["language"]["task"])

    def record(self, window: tuple[int, int], text: str, encoder,
               new_task: bool = False) -> str:
        """Store an answer: '' skips the window, otherwise it is appended to the annotations.
        A ``task_name: text`` answer must name a known task (:class:`UnknownTask`) unless
        ``new_task`` (the user confirmed a new task name)."""
        text = text.strip()
        if text:
            match = TASK.match(text)
            task, description = (match.group(1), match.group(2)) if match else ("", text)
            if task and not new_task and task not in self.known_tasks():
                raise UnknownTask(task)
            append_annotations(self.split, [window], [description], [task or "annotated"],
                               encoder.encode([description]))
            self.answered[window] = description
        else:
            self.answered[window] = ""
        self.save()
        return self.answered[window]


def run(split: str | Path, count: int, length: int, seed: int, gif_dir: str | Path,
        encoder=None, read: Callable[[str], str] | None = None,
        out: TextIO | None = None, new_session: bool = False) -> dict:
    """The terminal flow; returns counts. ``read(prompt)`` defaults to ``input``."""
    import sys

    out = out or sys.stdout
    read = read or input
    session = AnnotationSession(split, count, length, seed, new_session)
    if encoder is None:
        from lumos_core.language import shared_encoder

        encoder = shared_encoder()
    done_before = len(session.answered)
    todo = session.remaining()
    if done_before:
        print(f"resuming: {done_before} of {len(session.windows)} windows already answered",
              file=out)
    stopped = False
    for window in todo:
        number = session.windows.index(window) + 1
        gif = window_gif(session.split, window, Path(gif_dir)
                         / f"window_{window[0]:07d}_{window[1]:07d}.gif")
        print(f"[{number}/{len(session.windows)}] frames {window[0]}..{window[1]} -> {gif}",
              file=out, flush=True)
        while True:
            try:
                answer = read('description (Enter: skip, q: quit; optional "task_name: '
                              'text")> ')
            except EOFError:
                stopped = True
                break
            if answer.strip().lower() in ("q", "quit"):
                stopped = True
                break
            try:
                session.record(window, answer, encoder)
                break
            except UnknownTask as exc:
                print(f"unknown task {exc.args[0]!r} (known: "
                      f"{', '.join(sorted(session.known_tasks()))})", file=out, flush=True)
                try:
                    confirm = read(f"add {exc.args[0]!r} as a new task? [y/N] ")
                except EOFError:
                    stopped = True
                    break
                if confirm.strip().lower() in ("y", "yes"):
                    session.record(window, answer, encoder, new_task=True)
                    break
                print("answer again (or without a task name)", file=out, flush=True)
        if stopped:
            break
    described = sum(1 for a in session.answered.values() if a)
    summary = {"windows": len(session.windows), "answered": len(session.answered),
               "described": described, "stopped": stopped,
               "annotations": len(read_annotations(session.split)["info"]["indx"])}
    print(f"{summary['answered']}/{summary['windows']} windows answered ({described} described)"
          f"; {summary['annotations']} annotations in {session.split / LANG_DIR}"
          + ("; run the same command again to resume" if stopped else ""), file=out)
    return summary
