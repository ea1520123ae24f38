"""Filters as Milvus boolean expressions: every condition, and strings quoted so that no value
can change what the expression means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from polystream_vectors.milvus import _micros, _payload, _row, milvus_expression
from polystream_vectors.store import CollectionSpec, Filter, PayloadType, Point


def test_equality_and_ranges_are_anded() -> None:
    expr = milvus_expression(
        Filter(equals={"category": "shoes", "stock": 3}, ranges={"price": (10.0, 50)})
    )
    assert expr == '(category == "shoes") && (stock == 3) && (price >= 10.0) && (price <= 50)'


def test_open_ended_ranges_have_one_bound() -> None:
    assert milvus_expression(Filter(ranges={"price": (None, 5.5)})) == "(price <= 5.5)"
    assert milvus_expression(Filter(ranges={"price": (2, None)})) == "(price >= 2)"


def test_datetimes_are_microseconds_since_the_epoch() -> None:
    t = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=2, microseconds=5)
    assert milvus_expression(Filter(ranges={"at": (t, None)})) == "(at >= 2000005)"
    # Another zone, the same instant.
    t2 = t.astimezone(timezone(timedelta(hours=2)))
    assert milvus_expression(Filter(ranges={"at": (t2, None)})) == "(at >= 2000005)"


def test_quotes_backslashes_and_control_characters_are_escaped() -> None:
    hostile = 'shoes" || category != "'
    expr = milvus_expression(Filter(equals={"category": hostile}))
    assert expr == r'(category == "shoes\" || category != \"")'
    assert milvus_expression(Filter(equals={"c": "a\\b"})) == r'(c == "a\\b")'
    assert milvus_expression(Filter(equals={"c": "a\nb\tc"})) == r'(c == "a\nb\tc")'
    assert milvus_expression(Filter(equals={"c": "chaussures été"})) == '(c == "chaussures été")'


def test_rows_carry_every_payload_field_and_datetimes_round_trip() -> None:
    spec = CollectionSpec(
        "chat_messages", 2, {"user_id": PayloadType.KEYWORD, "at": PayloadType.DATETIME}
    )
    at = datetime(2026, 11, 23, 11, 30, 0, 123456, tzinfo=UTC)
    row = _row(spec, Point(7, [1.0, 0.0], {"user_id": "u1", "at": at}))
    assert row == {"id": 7, "vector": [1.0, 0.0], "user_id": "u1", "at": _micros(at)}
    assert _payload(spec, row) == {"user_id": "u1", "at": at}
    # Milvus 2.3 has no nullable fields: a missing one is refused before it reaches the server.
    with pytest.raises(ValueError, match="lacks payload field 'at'"):
        _row(spec, Point(7, [1.0, 0.0], {"user_id": "u1"}))
    with pytest.raises(ValueError, match="not in the spec"):
        _row(spec, Point(7, [1.0, 0.0], {"user_id": "u1", "at": at, "lang": "en"}))
