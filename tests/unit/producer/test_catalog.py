"""Publishing product deletions as tombstones, on a fake producer."""

from __future__ import annotations

import pytest

from polystream_common.topics import PRODUCTS, USER_EVENTS
from producer.catalog import publish_deletions


class FakeProducer:
    """Records what was sent and whether it was flushed after."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.flushed_after = -1

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.sent.append((topic, key, value))

    def flush(self, timeout: float = 60.0) -> None:
        self.flushed_after = len(self.sent)


def test_each_product_gets_one_tombstone_keyed_by_its_id_and_all_are_flushed() -> None:
    producer = FakeProducer()
    published = publish_deletions(producer, PRODUCTS, ["p-1", "p-2", "p-1", "produit-é"])
    assert published == ["p-1", "p-2", "produit-é"]
    assert producer.sent == [
        ("products.catalog", b"p-1", None),
        ("products.catalog", b"p-2", None),
        ("products.catalog", "produit-é".encode(), None),
    ]
    assert producer.flushed_after == 3


def test_tombstones_go_to_the_namespaced_topic() -> None:
    producer = FakeProducer()
    publish_deletions(producer, PRODUCTS.namespaced("test-abc."), ["p-1"])
    assert producer.sent == [("test-abc.products.catalog", b"p-1", None)]


def test_a_stream_where_null_is_poison_is_refused_before_sending() -> None:
    producer = FakeProducer()
    with pytest.raises(ValueError, match="poison"):
        publish_deletions(producer, USER_EVENTS, ["u-1"])
    assert producer.sent == []


def test_an_empty_id_is_refused_before_sending() -> None:
    producer = FakeProducer()
    with pytest.raises(ValueError, match="empty"):
        publish_deletions(producer, PRODUCTS, ["p-1", " "])
    assert producer.sent == []
