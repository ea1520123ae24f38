"""The lake's streams: each one's directory name, topic, wire models per schema version, and the
Arrow schema of its files, derived from the wire model so the two never drift apart.

Every field of the wire model is a column of the same name (``event_id`` a string,
``event_time`` ``timestamp[us, tz=UTC]``, tuples lists), followed by the Kafka coordinates
``kafka_topic``, ``kafka_partition`` and ``kafka_offset``. A stream with two schema versions
(user events) has one schema per version: a v1 file has no ``device`` column, and readers union
the files by name, so ``device`` reads as null for v1 rows.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

import pyarrow as pa

from polystream_common.schemas import (
    ChatMessage,
    Event,
    Product,
    SensorReading,
    UserEventV1,
    UserEventV2,
)
from polystream_common.sink import SinkRecord
from polystream_common.topics import CHAT_MESSAGES, PRODUCTS, SENSOR_READINGS, USER_EVENTS, Stream

KAFKA_COLUMNS = (
    pa.field("kafka_topic", pa.string(), nullable=False),
    pa.field("kafka_partition", pa.int32(), nullable=False),
    pa.field("kafka_offset", pa.int64(), nullable=False),
)
TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class LakeStream:
    """One stream of the lake: ``name`` is its directory (``stream=<name>``)."""

    name: str
    stream: Stream[Any]
    models: Mapping[int, type[Event]]
    """The wire model of each schema version."""

    @property
    def topic(self) -> str:
        return self.stream.topic

    def schema(self, version: int) -> pa.Schema:
        """The Arrow schema of this stream's files of ``version``."""
        try:
            model = self.models[version]
        except KeyError:
            raise ValueError(f"{self.name}: unknown schema version {version}") from None
        return arrow_schema(model)


SENSOR_READINGS_LAKE = LakeStream("sensor_readings", SENSOR_READINGS, {1: SensorReading})
USER_EVENTS_LAKE = LakeStream("user_events", USER_EVENTS, {1: UserEventV1, 2: UserEventV2})
CHAT_MESSAGES_LAKE = LakeStream("chat_messages", CHAT_MESSAGES, {1: ChatMessage})
PRODUCTS_LAKE = LakeStream("products", PRODUCTS, {1: Product})

LAKE_STREAMS: tuple[LakeStream, ...] = (
    SENSOR_READINGS_LAKE,
    USER_EVENTS_LAKE,
    CHAT_MESSAGES_LAKE,
    PRODUCTS_LAKE,
)
LAKE_STREAMS_BY_NAME: Mapping[str, LakeStream] = {s.name: s for s in LAKE_STREAMS}


@cache
def arrow_schema(model: type[Event]) -> pa.Schema:
    """The Arrow schema of ``model``'s files: its fields in order, then the Kafka columns."""
    fields = []
    for name, info in model.model_fields.items():
        arrow_type, nullable = _arrow_type(info.annotation)
        fields.append(pa.field(name, arrow_type, nullable=nullable))
    return pa.schema([*fields, *KAFKA_COLUMNS])


def _arrow_type(annotation: Any) -> tuple[pa.DataType, bool]:
    """The Arrow type of a field annotation, and whether it may be null."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _arrow_type(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"no Arrow type for the union {annotation!r}")
        arrow_type, _ = _arrow_type(members[0])
        return arrow_type, True
    if origin is Literal:
        kinds = {type(v) for v in get_args(annotation)}
        if len(kinds) != 1:
            raise TypeError(f"no Arrow type for the mixed literal {annotation!r}")
        return _arrow_type(kinds.pop())
    if origin is tuple or origin is list:
        item, _ = _arrow_type(get_args(annotation)[0])
        return pa.list_(item), False
    if annotation is UUID or annotation is str:
        return pa.string(), False
    if isinstance(annotation, type) and issubclass(annotation, datetime):
        return TIMESTAMP, False
    if annotation is bool:
        return pa.bool_(), False
    if annotation is int:
        return pa.int64(), False
    if annotation is float:
        return pa.float64(), False
    # pydantic's AwareDatetime is an annotated datetime at run time
    if getattr(annotation, "__name__", "") == "AwareDatetime":
        return TIMESTAMP, False
    raise TypeError(f"no Arrow type for {annotation!r}")


def to_table(records: Sequence[SinkRecord[Any]], schema: pa.Schema) -> pa.Table:
    """The rows of ``records`` (events of one schema version) as a table of ``schema``."""
    # A validated model keeps its fields in __dict__: a dict lookup per value is a third of the
    # cost of getattr on the model (measured: bench/lake_bench.py).
    fields = [r.value.__dict__ for r in records]
    columns: dict[str, list[Any]] = {}
    for field in schema:
        name = field.name
        if name == "kafka_topic":
            columns[name] = [r.topic for r in records]
        elif name == "kafka_partition":
            columns[name] = [r.partition for r in records]
        elif name == "kafka_offset":
            columns[name] = [r.offset for r in records]
        elif pa.types.is_string(field.type):
            values = [f[name] for f in fields]
            columns[name] = [v if v is None or v.__class__ is str else str(v) for v in values]
        elif pa.types.is_list(field.type):
            columns[name] = [None if f[name] is None else list(f[name]) for f in fields]
        else:
            columns[name] = [f[name] for f in fields]
    return pa.Table.from_pydict(columns, schema=schema)
