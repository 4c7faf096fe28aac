"""Grounding unseen instructions on the sentences a policy was trained on.

A policy learns its goal pathway from the MiniLM *sentence* embeddings of the training
paraphrases. Mean-pooled sentence embeddings barely move with the one word that names the
task's direction or state ("move the red cube to the right side" lands next to a left push,
"put out the bulb" next to switching it on), so an unseen paraphrase can hand the policy the
goal of another task. MiniLM's *token* embeddings keep those words apart: a small classifier
over them (a learned projection, then the maximum over tokens) trained on the training
paraphrases only names the task of unseen ones far more often than any rule on the sentence
embedding (docs/agents.md, session 14: 54 of 54 evaluation sentences against 49 for a
classifier on the sentence embedding and 39 for the nearest training sentence).

``InstructionGrounder.ground(text)`` names the task and replaces the instruction by the
training paraphrase of that task nearest to it, so the policy receives a goal embedding it was
trained on. It is fitted in seconds from the instructions a policy checkpoint records (one fit
per process and instruction set), needs at least two named tasks, and leaves goals given as
embeddings alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

#: the task name of annotations given without one (``lumos annotate``): not a task to ground on
UNLABELLED_TASK = "annotated"
#: grounding modes of a policy
GROUNDING_MODES = ("task", "off")


class GroundingError(ValueError):
    """The instructions cannot train a grounder (fewer than two named tasks, no tokens)."""


@dataclass(frozen=True)
class Grounding:
    """What an instruction was grounded on."""

    instruction: str
    task: str
    confidence: float
    #: the training paraphrase of ``task`` nearest to the instruction (the policy's goal)
    sentence: str
    #: the second most probable task and its probability (what an ambiguous text could mean)
    runner_up: str = ""
    runner_up_confidence: float = 0.0


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`GROUNDING_MODES`; else a ValueError naming them."""
    if mode not in GROUNDING_MODES:
        raise ValueError(f"grounding must be one of {GROUNDING_MODES}, got {mode!r}")
    return mode


def groundable(instructions: Mapping[str, Sequence[str]], encoder) -> str | None:
    """Why ``instructions`` cannot be grounded on with ``encoder``, or None if they can."""
    tasks = [t for t, texts in instructions.items() if texts and t != UNLABELLED_TASK]
    if len(tasks) < 2:
        return (f"grounding needs training instructions of at least two named tasks, got "
                f"{len(tasks)}")
    if UNLABELLED_TASK in instructions:
        return (f"some training instructions carry no task name ('{UNLABELLED_TASK}'): a "
                "grounder cannot tell which task they belong to")
    if not hasattr(encoder, "encode_tokens"):
        return f"the sentence encoder {type(encoder).__name__} gives no token embeddings"
    return None


class _TokenClassifier(torch.nn.Module):
    """Projection of each token embedding, maximum over the sentence's tokens, linear."""

    def __init__(self, dim: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(dim, hidden)
        self.out = torch.nn.Linear(hidden, classes)

    def forward(self, tokens: torch.Tensor, sentence: torch.Tensor, count: int) -> torch.Tensor:
        """``tokens`` (N, dim): every sentence's tokens in a row; ``sentence`` (N,): the index
        of the sentence each token belongs to; ``count``: the number of sentences."""
        hidden = torch.tanh(self.proj(tokens))
        index = sentence[:, None].expand_as(hidden)
        pooled = hidden.new_zeros(count, hidden.shape[1]).scatter_reduce(
            0, index, hidden, "amax", include_self=False)
        return self.out(pooled)


def _flat(tokens: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, int]:
    x = torch.as_tensor(np.concatenate(tokens))
    sentence = torch.repeat_interleave(torch.arange(len(tokens)),
                                       torch.tensor([len(t) for t in tokens]))
    return x, sentence, len(tokens)


def _fit(factory, seed: int, inputs: tuple, labels: torch.Tensor, steps: int, lr: float,
         weight_decay: float = 1e-4) -> torch.nn.Module:
    """A classifier built by ``factory()`` from seeded initial weights (the global torch seed
    is left alone), trained by full-batch Adam on cross-entropy; in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=generator)))
        net = factory()
    optimiser = torch.optim.Adam(net.parameters(), lr, weight_decay=weight_decay)
    with torch.enable_grad():
        for _ in range(steps):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(net(*inputs), labels).backward()
            optimiser.step()
    return net.eval()


class InstructionGrounder:
    """A task classifier over MiniLM token embeddings, fitted on training paraphrases."""

    def __init__(self, instructions: Mapping[str, Sequence[str]], encoder, *, hidden: int = 128,
                 steps: int = 200, lr: float = 1e-2, weight_decay: float = 1e-4,
                 seed: int = 0) -> None:
        reason = groundable(instructions, encoder)
        if reason:
            raise GroundingError(reason)
        self.encoder = encoder
        self.tasks = sorted(t for t, texts in instructions.items() if texts)
        self.sentences = {t: list(dict.fromkeys(instructions[t])) for t in self.tasks}
        texts = [s for t in self.tasks for s in self.sentences[t]]
        labels = torch.tensor([i for i, t in enumerate(self.tasks) for _ in self.sentences[t]])
        self._embeddings = {t: encoder.encode(self.sentences[t]) for t in self.tasks}
        batch = _flat(encoder.encode_tokens(texts))
        self.net = _fit(lambda: _TokenClassifier(batch[0].shape[-1], hidden, len(self.tasks)),
                        seed, batch, labels, steps, lr, weight_decay)
        with torch.no_grad():
            self.training_accuracy = float(
                (self.net(*batch).argmax(1) == labels).float().mean())

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """p(task | text) for each text, shape (len(texts), len(self.tasks))."""
        batch = _flat(self.encoder.encode_tokens(list(texts)))
        with torch.no_grad():
            return self.net(*batch).softmax(-1).numpy()

    def ground(self, text: str) -> Grounding:
        """The task of ``text`` and its training paraphrase nearest to ``text``."""
        probs = self.probabilities([text])[0]
        second, best = (int(i) for i in np.argsort(probs)[-2:])
        task = self.tasks[best]
        sims = self._embeddings[task] @ self.encoder.encode([text])[0]
        return Grounding(text, task, float(probs[best]),
                         self.sentences[task][int(np.argmax(sims))],
                         self.tasks[second], float(probs[second]))


_CACHE: dict[tuple, InstructionGrounder] = {}


def grounder_for(mode: str, instructions: Mapping[str, Sequence[str]],
                 encoder) -> tuple[InstructionGrounder | None, str | None]:
    """The shared grounder of ``instructions`` under grounding ``mode`` and None, or None and
    why instructions are embedded as given (grounding off, or not possible here)."""
    if check_mode(mode) == "off":
        return None, "grounding is off"
    reason = groundable(instructions, encoder)
    return (None, reason) if reason else (shared_grounder(instructions, encoder), None)


def shared_grounder(instructions: Mapping[str, Sequence[str]], encoder) -> InstructionGrounder:
    """One fitted grounder per process, instruction set and encoder (a fit costs seconds)."""
    digest = hashlib.sha256(json.dumps({t: list(v) for t, v in sorted(instructions.items())},
                                       sort_keys=True).encode()).hexdigest()
    key = (digest, id(encoder))
    if key not in _CACHE:
        _CACHE[key] = InstructionGrounder(instructions, encoder)
    return _CACHE[key]


def _sentence_rules(train: Mapping[str, Sequence[str]], encoder, seed: int, steps: int = 1000):
    """The two rules on the sentence embedding the grounder replaces: the task of the nearest
    training sentence, and a linear (logistic) classifier."""
    pairs = [(t, s) for t in sorted(train) for s in train[t]]
    tasks = sorted(train)
    known = encoder.encode([s for _, s in pairs])
    labels = torch.tensor([tasks.index(t) for t, _ in pairs])
    linear = _fit(lambda: torch.nn.Linear(known.shape[1], len(tasks)), seed,
                  (torch.as_tensor(known),), labels, steps, 1e-2)

    def nearest(texts):
        return [pairs[j][0] for j in (encoder.encode(texts) @ known.T).argmax(1)]

    def logistic(texts):
        with torch.no_grad():
            return [tasks[i] for i in linear(torch.as_tensor(encoder.encode(texts))).argmax(1)]

    return nearest, logistic


def grounding_study(train: Mapping[str, Sequence[str]],
                    held_out: Mapping[str, Mapping[str, Sequence[str]]], encoder,
                    paraphrases: Sequence[int] = (1, 2, 3, 6, 12), subsets: int = 3) -> list[dict]:
    """How often each rule names the task of held-out instructions, with ``k`` training
    paraphrases per task (``subsets`` random subsets per ``k``; all of them when a task has
    fewer): the nearest training sentence, a logistic classifier on the sentence embedding,
    and the grounder. One row per (k, held-out set): the mean and minimum over subsets."""
    rows = []
    for k in paraphrases:
        scores: dict[tuple[str, str], list[int]] = {}
        for subset in range(subsets):
            rng = np.random.default_rng(subset)
            sub = {t: [v[i] for i in sorted(rng.choice(len(v), min(k, len(v)), replace=False))]
                   for t, v in train.items()}
            nearest, logistic = _sentence_rules(sub, encoder, subset)
            grounder = InstructionGrounder(sub, encoder, seed=subset)
            rules = {"nearest training sentence": nearest, "logistic on the sentence "
                     "embedding": logistic,
                     "grounder (token embeddings)": lambda texts, g=grounder: [
                         g.tasks[i] for i in g.probabilities(texts).argmax(1)]}
            for name, sets in held_out.items():
                texts = [s for v in sets.values() for s in v]
                truth = [t for t, v in sets.items() for _ in v]
                for rule, predict in rules.items():
                    right = sum(p == t for p, t in zip(predict(texts), truth))
                    scores.setdefault((name, rule), []).append(right)
        for (name, rule), right in scores.items():
            total = sum(len(v) for v in held_out[name].values())
            rows.append({"paraphrases": k, "held_out": name, "rule": rule, "total": total,
                         "mean": float(np.mean(right)), "min": int(np.min(right))})
    return rows


def study_table(rows: Sequence[dict]) -> str:
    """Markdown table of :func:`grounding_study`: rules as rows, paraphrase counts as columns."""
    counts = sorted({r["paraphrases"] for r in rows})
    lines = ["| held-out set | rule | " + " | ".join(f"{k} per task" for k in counts) + " |",
             "|---|---|" + "---|" * len(counts)]
    keys = list(dict.fromkeys((r["held_out"], r["rule"]) for r in rows))
    for name, rule in keys:
        cells = []
        for k in counts:
            r = next(r for r in rows if (r["held_out"], r["rule"], r["paraphrases"])
                     == (name, rule, k))
            cells.append(f"{r['mean']:.1f} / {r['total']} (min {r['min']})")
        lines.append(f"| {name} | {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
