"""HashingEncoder, the fake that unit tests of every service encode with: it must keep the
Encoder contract (shapes, unit rows, determinism) for those tests to mean anything."""

from __future__ import annotations

import numpy as np

from polystream_embeddings.encoder import Encoder
from polystream_embeddings.testing import HashingEncoder


def test_keeps_the_encoder_contract() -> None:
    encoder: Encoder = HashingEncoder()
    vectors = encoder.encode(["red running shoes", "a kitchen knife", "", "!!!"])

    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert (encoder.backend, encoder.device, encoder.dimension) == ("hashing", "cpu", 384)


def test_an_empty_batch_has_the_dimension() -> None:
    assert HashingEncoder(dimension=16).encode([]).shape == (0, 16)


def test_same_text_same_vector_across_instances() -> None:
    # BLAKE2b, not hash(): the same in every process, whatever PYTHONHASHSEED.
    a = HashingEncoder().encode(["Trail Running Shoes"])
    b = HashingEncoder().encode(["trail running shoes"])
    np.testing.assert_array_equal(a, b)


def test_texts_sharing_words_are_nearer() -> None:
    query, shared, unrelated = HashingEncoder().encode(
        ["running shoes", "lightweight running shoes for trails", "stainless kitchen knife"]
    )
    assert query @ shared > query @ unrelated
    assert query @ shared > 0.5


def test_records_the_size_of_each_call() -> None:
    encoder = HashingEncoder(dimension=8)
    encoder.encode(["a", "b"])
    encoder.encode([])
    assert encoder.calls == [2, 0]
