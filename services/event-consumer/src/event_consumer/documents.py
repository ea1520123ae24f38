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


def event_document(record: SinkRecord[Any], ingested_at: datetime) -> dict[str, Any]:
    """The document stored for one record; ``_id`` is ``str(event_id)``.

    Built from the model's ``__dict__``, not ``model_dump``: the wire models are flat (no nested
    model, alias or computed field), so the values are the same, at a third of the cost per
    record (measured: bench/profile). A test checks it against ``model_dump`` on every model.
    """
    event: Event = record.value
    doc: dict[str, Any] = {"_id": str(event.event_id)}
    for name, value in event.__dict__.items():
        if value is not None and name != "event_id":
            doc[name] = value
    doc["kafka"] = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
    doc["ingested_at"] = ingested_at
    return doc
