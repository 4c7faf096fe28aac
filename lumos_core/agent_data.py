"""Expert windows for agent training, sampled from featurized data (hindsight relabelling).

- image-goal windows: any 20-32 frames inside one recording; the goal is the window's final
  latent;
- language-goal windows: 20-32 frames inside an annotated window; the goal is the annotation's
  sentence embedding. Windows starting among the last ``align_window`` legal starts (so they
  cover the end of the described behaviour) enter the contrastive loss, as in the official code.

Windows are padded to ``max_window`` by repeating the last frame (actions: zero deltas, the
gripper repeated), so the expert trajectory that the DITTO reward follows ends by staying at the
goal. With probability ``agent.history_free_prob`` (official: 0.5) per batch the first latent is
replaced by its history-free version, the state a policy starts from after ``reset()``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lumos_core.config import AgentConfig
from lumos_core.data.calvin import DatasetError, read_annotations, windows_in_episodes
from lumos_core.featurize import Features

ALIGN_WINDOW = 8


class ParaphrasePools:
    """Every distinct sentence embedding of each task, to draw a frame's language goal from
    its task's paraphrases instead of the one sentence its window was annotated with."""

    def __init__(self, tasks, embeddings) -> None:
        emb = np.asarray(embeddings, np.float32)
        names = sorted(set(tasks))
        lookup = {name: k for k, name in enumerate(names)}
        self.task_index = np.array([lookup[t] for t in tasks])
        pools = [np.unique(emb[self.task_index == k], axis=0) for k in range(len(names))]
        self.count = np.array([len(p) for p in pools])
        #: (tasks, most paraphrases, dim), each task's rows padded by repeating its first
        self.table = np.stack([np.concatenate([p, np.repeat(p[:1], self.count.max() - len(p),
                                                            0)]) for p in pools])

    def draw(self, rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """One random paraphrase embedding of the task of each of ``rows``."""
        k = self.task_index[np.asarray(rows)]
        pick = (rng.random(len(k)) * self.count[k]).astype(np.int64)
        return torch.as_tensor(self.table[k, pick])


class WindowSampler:
    """Samples padded expert windows of one featurized split."""

    def __init__(self, features: Features, dataset_split: str | Path, cfg: AgentConfig,
                 rng: np.random.Generator) -> None:
        self.f = features
        self.cfg = cfg
        self.rng = rng
        self.feat = features.arrays["features"]
        self.zero = features.arrays["zero_features"]
        self.actions = features.arrays["rel_actions"]
        self.segments = np.asarray(features.arrays["segments"])
        frame_ids = np.asarray(features.arrays["frame_ids"])
        row_of = {int(fid): i for i, fid in enumerate(frame_ids)}
        if not Path(dataset_split).is_dir():
            # without it the language windows would silently be none (features written
            # before session 28 name their dataset as given to featurize, maybe relative)
            raise DatasetError(
                f"{dataset_split}: the dataset split these features were computed from is "
                f"missing (looked for from {Path.cwd()}; the features' meta.json names "
                f"dataset {features.meta.get('dataset')!r}): run from the directory it is "
                "relative to, or correct 'dataset' in meta.json")
        lang = read_annotations(dataset_split)
        indx = lang["info"]["indx"]
        inside = set(windows_in_episodes(indx, frame_ids[self.segments]).tolist())
        #: windows that run past their episode (skipped, counted) and the shorter ones
        self.skipped = len(indx) - len(inside)
        rows, keep = [], []
        allowed = self.subset(lang["language"]["task"], cfg.lang_per_task)
        for i, (start, end) in enumerate(indx):
            if i in allowed and i in inside and end - start + 1 >= cfg.min_window:
                rows.append((row_of[int(start)], row_of[int(end)]))
                keep.append(i)
        if self.skipped:
            import sys

            print(f"{dataset_split}: {self.skipped} of {len(indx)} language windows run past "
                  "their episode and are skipped", file=sys.stderr)
        self.lang_rows = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        self.lang_task = [lang["language"]["task"][i] for i in keep]
        names = sorted(set(self.lang_task))
        self.lang_task_id = np.array([names.index(t) for t in self.lang_task], np.int64)
        self.lang_text = [lang["language"]["ann"][i] for i in keep]
        self.language_model = lang["info"].get("language_model")
        self.lang_emb = self._embeddings(lang, keep)
        self.pools = (ParaphrasePools(self.lang_task, self.lang_emb)
                      if cfg.resample_goal and keep else None)
        if not keep and not cfg.image_goals:
            raise DatasetError(f"{dataset_split}: no language-annotated windows to train on "
                               "and agent.image_goals is false (nothing else to learn "
                               "from): annotate the play or set agent.image_goals=true")
        self.vis_starts = np.concatenate([np.arange(s, e - cfg.min_window + 2)
                                          for s, e in self.segments
                                          if e - s + 1 >= cfg.min_window])
        self.segment_end = np.zeros(len(self.feat), np.int64)
        for s, e in self.segments:
            self.segment_end[s:e + 1] = e

    def _embeddings(self, lang: dict, keep: list[int]) -> np.ndarray:
        """The windows' sentence embeddings in the space of this project's encoder (the one a
        trained checkpoint names and embeds goals with at run time): the stored vectors when
        the file says they come from it, else the sentences embedded again (real CALVIN
        splits ship paraphrase-MiniLM-L3-v2 vectors)."""
        from lumos_core.language import MODEL_ID

        if not keep:
            return np.zeros((0, 384), np.float32)
        if self.language_model == MODEL_ID:
            return np.asarray(lang["language"]["emb"][keep, 0], np.float32)
        import sys

        from lumos_core.language import shared_encoder

        source = self.language_model or "an unnamed sentence model"
        print(f"the dataset's language embeddings come from {source}; embedding its "
              f"{len(keep)} sentences with {MODEL_ID}", file=sys.stderr)
        texts = sorted(set(self.lang_text))
        vectors = dict(zip(texts, np.asarray(shared_encoder().encode(texts), np.float32)))
        self.language_model = MODEL_ID
        return np.stack([vectors[t] for t in self.lang_text])

    @staticmethod
    def subset(tasks: list[str], per_task: int, seed: int = 0) -> set[int]:
        """Indices of at most ``per_task`` annotations per task: a fixed random subset that
        grows with ``per_task`` (the 10-window set contains the 2-window set); 0 = all."""
        if per_task <= 0:
            return set(range(len(tasks)))
        order = np.random.default_rng(seed).permutation(len(tasks))
        taken: dict[str, int] = {}
        chosen = set()
        for i in order:
            if taken.get(tasks[i], 0) < per_task:
                taken[tasks[i]] = taken.get(tasks[i], 0) + 1
                chosen.add(int(i))
        return chosen

    @property
    def has_language(self) -> bool:
        """Whether language-annotated windows exist."""
        return len(self.lang_rows) > 0

    def _window(self, start: int, end_limit: int) -> tuple[np.ndarray, int]:
        longest = min(self.cfg.max_window, end_limit - start + 1)
        length = int(self.rng.integers(self.cfg.min_window, longest + 1))
        return np.arange(start, start + length), length

    def sample(self, batch: int, device: torch.device | str = "cpu",
               history_free: bool | None = None) -> dict:
        """``batch`` image-goal windows (none with ``agent.image_goals`` false) plus ``batch``
        language-goal windows (if any), with their feature ``rows`` (padded); the
        first latent is history-free with probability ``history_free_prob`` per batch, or as
        ``history_free`` says."""
        cfg = self.cfg
        windows, lang, is_lang, align, task = [], [], [], [], []
        image_windows = batch if cfg.image_goals or not self.has_language else 0
        for start in self.rng.choice(self.vis_starts, image_windows):
            windows.append(self._window(int(start), int(self.segment_end[start]))[0])
            lang.append(np.zeros(384, np.float32))
            is_lang.append(False)
            align.append(False)
            task.append(-1)
        if self.has_language:
            chosen = self.rng.integers(len(self.lang_rows), size=batch)
            goals = (self.lang_emb[chosen] if self.pools is None
                     else self.pools.draw(chosen, self.rng).numpy())
            for i, goal in zip(chosen, goals):
                s, e = self.lang_rows[i]
                last_start = e - cfg.min_window + 1
                start = int(self.rng.integers(s, last_start + 1))
                windows.append(self._window(start, int(e))[0])
                lang.append(goal)
                is_lang.append(True)
                align.append(start > last_start - ALIGN_WINDOW)
                task.append(int(self.lang_task_id[i]))
        n, t = len(windows), cfg.max_window
        rows = np.stack([np.pad(w, (0, t - len(w)), mode="edge") for w in windows])
        mask = np.arange(t)[None] < np.array([len(w) for w in windows])[:, None]
        feat = np.asarray(self.feat[rows.ravel()]).reshape(n, t, -1)
        if (self.rng.random() < cfg.history_free_prob if history_free is None
                else history_free):
            feat[:, 0] = np.asarray(self.zero[rows[:, 0]])
        actions = np.asarray(self.actions[rows.ravel()]).reshape(n, t, -1).copy()
        actions[..., :6] *= mask[..., None]
        return {"rows": rows, "feat": torch.as_tensor(feat, device=device),
                "actions": torch.as_tensor(actions, device=device),
                "mask": torch.as_tensor(mask, device=device),
                "lang": torch.as_tensor(np.stack(lang), device=device),
                "is_lang": torch.as_tensor(np.array(is_lang), device=device),
                "align": torch.as_tensor(np.array(align), device=device),
                "task": torch.as_tensor(np.array(task, np.int64), device=device)}

    def instructions(self) -> dict[str, list[str]]:
        """Annotated sentences per task (the domain of the trained policy)."""
        out: dict[str, list[str]] = {}
        for task, text in zip(self.lang_task, self.lang_text):
            if text not in out.setdefault(task, []):
                out[task].append(text)
        return out
