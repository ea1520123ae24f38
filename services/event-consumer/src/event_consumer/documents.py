"""How events become MongoDB documents. The collections they live in, with their indexes, are the
read side's: :mod:`polystream_readmodels.collections`.

A document is the event's own fields, stored natively: ``_id`` is the event id as a string (the
idempotency key; readable in the shell and in JSON output, no UUID representation to agree on),
``event_time`` a BSON date (millisecond precision, UTC), numbers as numbers. Optional fields that
are unset are left out rather than stored as null, so a v1 user event simply has no ``device`` and
a v2 event lands next to it with no migration; queries read a missing field as null.
Each document also records where it came from in Kafka and when it was written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from polystream_common.schemas import Event
from polystream_common.sink import SinkRecord

# Re-exported while callers outside the package (bench/, the catalog sink) move to the library.
from polystream_readmodels.collections import (
    CHAT_MESSAGES_COLLECTION,
    USER_EVENTS_COLLECTION,
    CollectionSpec,
)

__all__ = ["CHAT_MESSAGES_COLLECTION", "USER_EVENTS_COLLECTION", "CollectionSpec", "event_document"]


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
