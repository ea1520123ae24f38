"""The Sink port: where a consumer loop writes a validated batch.

An adapter connects in :meth:`Sink.setup`, never in ``__init__``. :meth:`Sink.write` must be
idempotent (keyed by ``event_id``) because the loop delivers at least once: a batch written and
then redelivered after a crash must leave no duplicate.

Errors:
- raise any exception for a failure of the whole batch (store down, timeout): the loop pauses its
  partitions, retries the batch with backoff and never commits past it;
- return :class:`Rejection` for single records the store refuses for good (a document too
  large, a constraint): the loop sends them to the dead-letter topic and the rest goes on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from polystream_common.schemas import Event

E = TypeVar("E", bound=Event)


@dataclass(frozen=True, slots=True)
class SinkRecord(Generic[E]):
    """A validated event and where it came from in Kafka."""

    value: E
    topic: str
    partition: int
    offset: int
    key: bytes | None = None


@dataclass(frozen=True, slots=True)
class Rejection(Generic[E]):
    """A record the store refused for good, with the reason."""

    record: SinkRecord[E]
    error_class: str
    message: str


class Sink(ABC, Generic[E]):
    """Writes batches of one stream to one store."""

    name: str = "sink"

    async def setup(self) -> None:
        """Connect and create what the store needs (tables, indexes); idempotent."""

    @abstractmethod
    async def write(self, batch: Sequence[SinkRecord[E]]) -> Sequence[Rejection[E]]:
        """Write the batch idempotently; return the records refused for good."""

    async def close(self) -> None:
        """Release connections."""
