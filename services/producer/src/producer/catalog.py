"""Removing products from the catalog: a tombstone (the product id as key, a null value) on
``products.catalog``. Compaction keeps the tombstone as the product's last record, and every
consumer of the catalog deletes the product from its store (see ``Stream.tombstone``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from polystream_common.topics import Stream


class TombstonePublisher(Protocol):
    """What publishing deletions needs of a producer (``EventProducer`` is the real one)."""

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None) -> None: ...

    def flush(self, timeout: float = 60.0) -> None: ...


def publish_deletions(
    producer: TombstonePublisher, stream: Stream[Any], ids: Iterable[str]
) -> list[str]:
    """Publish one tombstone per id (each once, in the order given) to ``stream`` and wait until
    the broker has them all; returns the ids published. Raises ``ValueError`` for a stream whose
    tombstones are not deletes (there a null value is poison) or for an empty id, before sending
    anything, and ``DeliveryError`` (from ``flush``) if the broker did not take them all."""
    if stream.tombstone != "delete":
        raise ValueError(f"{stream.topic} is not a table stream: a null value there is poison")
    wanted = list(dict.fromkeys(ids))
    if any(not i.strip() for i in wanted):
        raise ValueError("an id to delete is empty")
    for entity_id in wanted:
        producer.send_raw(stream.topic, entity_id.encode(), None)
    producer.flush()
    return wanted
