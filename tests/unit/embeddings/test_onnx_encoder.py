"""OnnxEncoder on the toy model (conftest.py): its tokenizing, batching and pooling give each
text the vector numpy computes for it alone, in the order given, whatever the batch size."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from polystream_embeddings.onnx_encoder import OnnxEncoder
from polystream_embeddings.settings import EmbeddingSettings

TEXTS = [
    "running shoes",
    "the red marathon footwear a the red blue",
    "knife",
    "",
    "unknown words only",
    "a kitchen knife",
    "blue blue blue blue blue blue blue",
]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 64])
def test_each_text_gets_its_own_vector_in_order(toy_model: Any, batch_size: int) -> None:
    toy = toy_model(dimension=8)
    encoder = OnnxEncoder(EmbeddingSettings(model_dir=toy.dir, dimension=8, batch_size=batch_size))

    vectors = encoder.encode(TEXTS)

    expected = np.stack([toy.expected(t) for t in TEXTS])
    np.testing.assert_allclose(vectors, expected, rtol=1e-5, atol=1e-6)
    assert vectors.dtype == np.float32


def test_truncates_at_max_seq_length_not_at_the_tokenizer_files(toy_model: Any) -> None:
    # The toy tokenizer.json truncates at 4 and pads to 16, as the real one does at 128;
    # the encoder's own max_seq_length (special tokens included) is what counts.
    toy = toy_model(dimension=8)
    long = "red blue " * 20
    for max_seq_length in (6, 30):
        encoder = OnnxEncoder(
            EmbeddingSettings(model_dir=toy.dir, dimension=8, max_seq_length=max_seq_length)
        )
        np.testing.assert_allclose(
            encoder.encode([long])[0], toy.expected(long, max_seq_length), rtol=1e-5, atol=1e-6
        )


def test_an_empty_batch(toy_model: Any) -> None:
    toy = toy_model(dimension=8)
    encoder = OnnxEncoder(EmbeddingSettings(model_dir=toy.dir, dimension=8))
    assert encoder.encode([]).shape == (0, 8)


def test_a_model_without_token_type_ids(toy_model: Any) -> None:
    # MPNet and RoBERTa-style exports take two inputs; the encoder feeds what the graph declares.
    toy = toy_model(dimension=12, token_type_ids=False)
    encoder = OnnxEncoder(EmbeddingSettings(model_dir=toy.dir, dimension=12))

    np.testing.assert_allclose(
        encoder.encode(["running shoes"])[0], toy.expected("running shoes"), rtol=1e-5, atol=1e-6
    )
    assert encoder.dimension == 12
