"""Mean pooling and normalisation: the arithmetic both backends must share."""

from __future__ import annotations

import numpy as np

from polystream_embeddings.pooling import l2_normalize, mean_pool


def test_mean_pool_averages_only_the_tokens_the_mask_keeps() -> None:
    tokens = np.array(
        [[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]]],
        dtype=np.float32,
    )
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=np.int64)

    pooled = mean_pool(tokens, mask)

    np.testing.assert_allclose(pooled, [[2.0, 3.0], [2.0, 0.0]])
    assert pooled.dtype == np.float32


def test_a_sentence_pools_the_same_whatever_its_batch_pads_it_to() -> None:
    sentence = np.array([[[1.0, -1.0], [0.5, 0.5]]], dtype=np.float32)
    padded = np.concatenate([sentence, np.full((1, 5, 2), 9.0, dtype=np.float32)], axis=1)

    alone = mean_pool(sentence, np.ones((1, 2), dtype=np.int64))
    in_batch = mean_pool(padded, np.array([[1, 1, 0, 0, 0, 0, 0]], dtype=np.int64))

    np.testing.assert_allclose(alone, in_batch)


def test_an_all_masked_row_pools_to_zero_not_nan() -> None:
    pooled = mean_pool(np.ones((1, 3, 2), dtype=np.float32), np.zeros((1, 3), dtype=np.int64))
    np.testing.assert_array_equal(pooled, [[0.0, 0.0]])


def test_l2_normalize_gives_unit_rows_and_keeps_directions() -> None:
    vectors = np.array([[3.0, 4.0], [0.0, 0.5]], dtype=np.float32)

    unit = l2_normalize(vectors)

    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-6)
    assert unit.dtype == np.float32


def test_l2_normalize_leaves_a_zero_row_zero() -> None:
    np.testing.assert_array_equal(l2_normalize(np.zeros((1, 3), dtype=np.float32)), [[0, 0, 0]])
