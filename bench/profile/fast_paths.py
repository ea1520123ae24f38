"""Drop-in candidates for the other per-record steps the profile shows, each equal in result to
what it replaces (``check.py`` proves it on generated records).

- :func:`event_document`: the MongoDB document of a record from the model's ``__dict__``
  (``model_dump`` walks pydantic's serializer: 4 to 5 us a record, most of event_document);
- :class:`PlainSinkRecord`: ``SinkRecord`` as a slotted class that is not ``frozen``: a frozen
  dataclass's ``__init__`` sets each field through ``object.__setattr__`` (1.2 us a record);
- :func:`end_to_end_latencies`: the batch's latencies, for :func:`batch_histogram.observe_many`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from polystream_common.schemas import Event
from polystream_common.sink import SinkRecord

E = TypeVar("E", bound=Event)


def event_document(record: SinkRecord[Any], ingested_at: datetime) -> dict[str, Any]:
    """Same document as ``event_consumer.documents.event_document``: the event's fields minus
    ``event_id`` and the unset (None) ones, ``_id`` = ``str(event_id)``, plus where it came from.

    Reads the model's ``__dict__``: the wire models are flat (no nested model, no computed or
    aliased field), so ``model_dump(mode="python")`` gives exactly those values. A wire model
    that gains a nested model would need ``model_dump`` back (``check.py`` would catch it on its
    samples; a guard in the real code could assert ``type(v)`` is not a BaseModel cheaply).
    """
    event = record.value
    doc: dict[str, Any] = {"_id": str(event.event_id)}
    for name, value in event.__dict__.items():
        if value is not None and name != "event_id":
            doc[name] = value
    doc["kafka"] = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
    doc["ingested_at"] = ingested_at
    return doc


@dataclass(slots=True)
class PlainSinkRecord(Generic[E]):
    """``SinkRecord`` without ``frozen=True``: immutable by convention (nothing in the loop or
    the sinks assigns to it), and 3-4x cheaper to build."""

    value: E
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    raw: bytes | None = None


def end_to_end_latencies(records: Sequence[SinkRecord[Any]], now: float) -> list[float]:
    """Seconds from each record's ``event_time`` to ``now`` (never negative: clock skew)."""
    return [max(0.0, now - r.value.event_time.timestamp()) for r in records]
