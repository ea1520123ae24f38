"""The VectorStore port's value types: deterministic point ids, and what the dataclasses refuse."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from polystream_vectors.store import CollectionSpec, Filter, PayloadType, Point, point_id


def test_point_id_is_deterministic_and_distinct() -> None:
    assert point_id("product-1") == point_id("product-1")
    ids = {point_id(f"product-{i}") for i in range(100_000)}
    assert len(ids) == 100_000


def test_point_id_fits_signed_and_unsigned_int64_and_is_never_zero() -> None:
    for text in ("", "a", "product-1", "ünïcødé", "x" * 10_000):
        assert 0 < point_id(text) < 2**63


def test_point_id_is_stable_across_releases() -> None:
    # Stored points are keyed by these ids: changing the hash would duplicate every point.
    digest = hashlib.blake2b(b"product-1", digest_size=8).digest()
    assert point_id("product-1") == int.from_bytes(digest, "big") & (2**63 - 1)


def test_collection_spec_refuses_names_that_are_not_identifiers() -> None:
    with pytest.raises(ValueError, match="identifier"):
        CollectionSpec("products; drop", 3)
    with pytest.raises(ValueError, match="identifier"):
        CollectionSpec("products", 3, {"price) || (1": PayloadType.FLOAT})
    with pytest.raises(ValueError, match="reserved"):
        CollectionSpec("products", 3, {"id": PayloadType.INT})
    with pytest.raises(ValueError, match="dimension"):
        CollectionSpec("products", 0)
    with pytest.raises(ValueError):
        CollectionSpec("products", 3, {"price": "money"})  # type: ignore[dict-item]


def test_point_refuses_out_of_range_ids_empty_vectors_and_naive_datetimes() -> None:
    for bad in (0, -1, 2**63):
        with pytest.raises(ValueError, match="point id"):
            Point(bad, [1.0])
    with pytest.raises(ValueError, match="vector"):
        Point(1, [])
    with pytest.raises(ValueError, match="timezone"):
        Point(1, [1.0], {"at": datetime(2026, 1, 1)})
    assert Point(1, [1.0], {"at": datetime(2026, 1, 1, tzinfo=UTC)}).id == 1


def test_filter_refuses_bad_fields_values_and_bounds() -> None:
    with pytest.raises(ValueError, match="identifier"):
        Filter(equals={"category == 'x' || 1": "x"})
    with pytest.raises(ValueError, match="str or an int"):
        Filter(equals={"flag": True})
    with pytest.raises(ValueError, match="at least one bound"):
        Filter(ranges={"price": (None, None)})
    with pytest.raises(ValueError, match="finite"):
        Filter(ranges={"price": (float("nan"), 1.0)})
    assert not Filter()
    assert Filter(equals={"category": "shoes"})
