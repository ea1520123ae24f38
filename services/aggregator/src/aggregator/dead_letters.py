"""Strict decoding at the aggregator's edge: a record its stream's schema refuses becomes a
:class:`~polystream_common.dlq.DeadLetter` (original bytes, origin and error headers) that the
pipeline publishes to ``<topic>.dlq`` inside the same Kafka transaction as everything else."""

from __future__ import annotations

from typing import Any

from polystream_common.codec import InvalidRecord, decode_record
from polystream_common.dlq import DeadLetter
from polystream_common.topics import Stream


def decode_or_reject(
    stream: Stream[Any],
    raw: bytes | None,
    key: bytes | None,
    partition: int,
    offset: int,
) -> Any:
    """The decoded event, or a :class:`DeadLetter` saying why it could not be decoded."""
    try:
        return decode_record(stream, raw)
    except InvalidRecord as exc:
        return DeadLetter(
            dlq_topic=stream.dlq_topic,
            topic=stream.topic,
            partition=partition,
            offset=offset,
            key=key,
            value=raw,
            error_class=exc.error_class,
            message=exc.message,
        )
