"""Gatekeeping of free-form language instructions before they become a robot's goal.

Rejects empty or whitespace-only text, text over a length limit, control characters, and
out-of-domain instructions: those whose cosine similarity to every instruction the policy was
trained on is below a threshold. Similarity is only used to reject, never to pick a task
(MiniLM barely separates opposite verbs: "open/close the drawer" have similarity 0.905).
With grounding (``grounding="task"``, the default, when the known instructions name at least
two tasks and the encoder gives token embeddings), an accepted instruction's embedding is that
of the training paraphrase of the task a classifier over its token embeddings names
(:mod:`lumos_core.grounding`); ``min_task_confidence`` rejects instructions that classifier
finds ambiguous, naming the two tasks they could mean.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import numpy as np

from lumos_core.config import read_yaml


class Encoder(Protocol):
    """What the gate needs from a sentence encoder."""

    model_id: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings, shape (len(texts), dim)."""


@dataclass(frozen=True)
class Decision:
    """Outcome of checking one instruction."""

    accepted: bool
    message: str
    instruction: str
    closest_task: str = ""
    similarity: float = 0.0
    embedding: np.ndarray | None = None
    #: a stop command ("stop", "halt", "freeze", ...): hold the robot and clear the goal
    stop: bool = False
    #: the :class:`~lumos_core.grounding.Grounding` the embedding comes from (None: as given)
    grounding: object = None


#: words that make an instruction a stop command when it has nothing else in it
STOP_VERBS = {"stop", "halt", "freeze", "abort", "cancel", "pause", "hold", "wait", "estop",
              "e-stop"}
STOP_FILLER = {"the", "robot", "arm", "now", "please", "everything", "it", "right", "moving",
               "immediately", "emergency", "all", "motion", "still", "stay", "dont", "don't",
               "do", "not", "move", "there", "here", "on", "off", "that", "this", "task"}
#: words that negate an instruction ("do not open the drawer" must not open it)
NEGATIONS = {"not", "dont", "don't", "never", "no", "without", "avoid", "neither", "nor",
             "cannot", "can't", "shouldn't", "mustn't", "won't", "stop"}


def _words(text: str) -> list[str]:
    cleaned = "".join(c if c.isalnum() or c in "'-" else " " for c in text.lower())
    return [w.replace("\u2019", "'") for w in cleaned.split()]


def is_stop_command(text: str) -> bool:
    """Whether ``text`` only asks the robot to stop (or not to move)."""
    words = _words(text.replace("\u2019", "'"))
    if not words or not set(words) <= STOP_VERBS | STOP_FILLER:
        return False
    joined = " ".join(words)
    return bool(set(words) & STOP_VERBS) or any(
        p in joined for p in ("don't move", "dont move", "do not move", "stay still"))


def negation(text: str) -> str | None:
    """The negating word of an instruction, if it has one."""
    for word in _words(text.replace("\u2019", "'")):
        if word in NEGATIONS or word.endswith("n't"):
            return word
    return None


def load_instruction_file(path: str | Path) -> dict[str, list[str]]:
    """Read a YAML mapping ``task -> [instruction, ...]``."""
    path = Path(path)
    data = read_yaml(path, "instruction file")
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(s, str) for s in v)
            for k, v in data.items()):
        raise ValueError(f"instruction file {path} must map task names to lists of "
                         "instruction strings")
    return data


class InstructionGate:
    """Validate instructions against length/character rules and the known instruction set."""

    def __init__(self, encoder: Encoder, known: Mapping[str, Sequence[str]] | None = None,
                 max_length: int = 256, min_similarity: float = 0.5, grounding: str = "task",
                 min_task_confidence: float = 0.0) -> None:
        from lumos_core.grounding import grounder_for

        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        if not -1.0 <= min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be in [-1, 1], got {min_similarity}")
        if not 0.0 <= min_task_confidence <= 1.0:
            raise ValueError(f"min_task_confidence must be in [0, 1], got "
                             f"{min_task_confidence}")
        self.encoder = encoder
        self.max_length = max_length
        self.min_similarity = min_similarity
        self.min_task_confidence = min_task_confidence
        #: grounder: None when instructions are embedded as given; grounding_note: then why
        self.grounder, self.grounding_note = grounder_for(grounding, known or {}, encoder)
        pairs = [(task, text) for task, texts in (known or {}).items() for text in texts]
        self._tasks = [task for task, _ in pairs]
        self._texts = [text for _, text in pairs]
        self._known = encoder.encode(self._texts) if pairs else None

    @property
    def known_tasks(self) -> list[str]:
        """Tasks with at least one known instruction."""
        return sorted(set(self._tasks))

    def check(self, instruction: object) -> Decision:
        """Decide whether ``instruction`` may become the goal."""
        if not isinstance(instruction, str):
            return Decision(False, f"instruction must be a string, got "
                                   f"{type(instruction).__name__}", "")
        text = instruction.strip()
        if not text:
            return Decision(False, "rejected: the instruction is empty or only whitespace", "")
        if len(instruction) > self.max_length:
            return Decision(False, f"rejected: the instruction has {len(instruction)} "
                                   f"characters, the limit is {self.max_length}", text)
        bad = [c for c in instruction if unicodedata.category(c) in ("Cc", "Cf")]
        if bad:
            codes = ", ".join(sorted({f"U+{ord(c):04X}" for c in bad}))
            return Decision(False, f"rejected: the instruction contains control characters "
                                   f"({codes})", text)
        if is_stop_command(text):
            return Decision(True, f"stop: '{text}' -- the goal is cleared and the robot holds "
                                  "its pose", text, stop=True)
        negated = negation(text)
        if negated:
            return Decision(False, f"rejected: '{text}' is negated ('{negated}'); the policy "
                                   "follows what to do, not what to avoid (say 'stop' to stop "
                                   "the robot)", text)
        embedding = self.encoder.encode([text])[0]
        if self._known is None:
            return Decision(True, f"accepted: '{text}' (no known instructions loaded: "
                                  "out-of-domain check disabled)", text, embedding=embedding)
        sims = self._known @ embedding
        best = int(np.argmax(sims))
        similarity = float(sims[best])
        task = self._tasks[best]
        if similarity < self.min_similarity:
            return Decision(False, f"rejected: out of domain; the nearest training "
                                   f"instruction is '{self._texts[best]}' (task '{task}', "
                                   f"similarity {similarity:.3f} < threshold "
                                   f"{self.min_similarity:.3f})", text, task, similarity)
        if self.grounder is None:
            return Decision(True, f"accepted: '{text}' (nearest training instruction "
                                  f"'{self._texts[best]}' of task '{task}', similarity "
                                  f"{similarity:.3f}; only a domain check -- the policy acts "
                                  "on the embedding, not on this match)", text, task,
                            similarity, embedding)
        grounded = self.grounder.ground(text)
        if grounded.confidence < self.min_task_confidence:
            return Decision(False, f"rejected: ambiguous; '{text}' reads as task "
                                   f"'{grounded.task}' ({grounded.confidence:.2f}) or "
                                   f"'{grounded.runner_up}' "
                                   f"({grounded.runner_up_confidence:.2f}), below the "
                                   f"confidence threshold {self.min_task_confidence:.2f}; "
                                   "say it more plainly", text, grounded.task, similarity,
                            grounding=grounded)
        return Decision(True, f"accepted: '{text}' as task '{grounded.task}' (confidence "
                              f"{grounded.confidence:.2f}), grounded on its training "
                              f"instruction '{grounded.sentence}'", text, grounded.task,
                        similarity, self.encoder.encode([grounded.sentence])[0],
                        grounding=grounded)
