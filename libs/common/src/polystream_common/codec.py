"""The record codec: raw Kafka values to validated events, with the reason when they are not.

One function, used by every consumer (through the loop) and by the producer's file ingestion, so a
record is judged the same way wherever it is read.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import ValidationError

from polystream_common.schemas import Event
from polystream_common.topics import Stream

E = TypeVar("E", bound=Event)


class InvalidRecord(Exception):
    """Why a record cannot be decoded; its ``error_class`` goes into the DLQ headers."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


def decode_record(stream: Stream[E], raw: bytes | None) -> E:
    """Decode one record or raise :class:`InvalidRecord` naming the kind of defect.

    A null value is a tombstone: the loop handles it before decoding on streams where it means a
    delete (see :attr:`Stream.tombstone`); anywhere else it is invalid.
    """
    if raw is None:
        raise InvalidRecord("NullValue", "record has no value (tombstone)")
    try:
        return stream.decode(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        kind = (
            "InvalidJSON" if errors and errors[0]["type"] == "json_invalid" else "SchemaViolation"
        )
        raise InvalidRecord(kind, json.dumps(errors, default=str)) from exc
