"""How events become MongoDB documents, and the collections (with their indexes) they live in.

A document is the event's own fields, stored natively: ``_id`` is the event id as a string (the
idempotency key; readable in the shell and in JSON output, no UUID representation to agree on),
``event_time`` a BSON date (millisecond precision, UTC), numbers as numbers. Optional fields that
are unset are left out rather than stored as null, so a v1 user event simply has no ``device`` and
a v2 event lands next to it with no migration; queries read a missing field as null.
Each document also records where it came from in Kafka and when it was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from polystream_common.schemas import Event
from polystream_common.sink import SinkRecord


@dataclass(frozen=True)
class CollectionSpec:
    """A collection and the indexes a sink creates on it at start (idempotently)."""

    name: str
    indexes: tuple[IndexModel, ...] = ()


USER_EVENTS_COLLECTION = CollectionSpec(
    "user_events",
    (
        # A user's recent activity.
        IndexModel([("user_id", ASCENDING), ("event_time", DESCENDING)], name="user_time"),
        # Events of one type over time (events per type per day, the funnel steps).
        IndexModel([("event_type", ASCENDING), ("event_time", DESCENDING)], name="type_time"),
        # A product's interactions over time.
        IndexModel([("product_id", ASCENDING), ("event_time", DESCENDING)], name="product_time"),
        # Every analytics window starts with a range on event_time alone.
        IndexModel([("event_time", DESCENDING)], name="time"),
    ),
)
"""``user.events``: every schema version of :class:`~polystream_common.schemas.UserEventV1`."""

CHAT_MESSAGES_COLLECTION = CollectionSpec(
    "chat_messages",
    (
        # A conversation in order: the raw chat log.
        IndexModel([("conversation_id", ASCENDING), ("event_time", ASCENDING)], name="conv_time"),
        IndexModel([("user_id", ASCENDING), ("event_time", DESCENDING)], name="user_time"),
    ),
)
"""``chat.messages``: the source of truth of the raw chat logs."""


def event_document(record: SinkRecord[Any], ingested_at: datetime) -> dict[str, Any]:
    """The document stored for one record; ``_id`` is ``str(event_id)``."""
    event: Event = record.value
    fields = event.model_dump(mode="python", exclude_none=True, exclude={"event_id"})
    return {
        "_id": str(event.event_id),
        **fields,
        "kafka": {"topic": record.topic, "partition": record.partition, "offset": record.offset},
        "ingested_at": ingested_at,
    }
