"""The Sink port: where a consumer loop writes a validated batch.

An adapter connects in :meth:`Sink.setup`, never in ``__init__``. :meth:`Sink.write` must be
idempotent (keyed by ``event_id``, or by the entity id on a table stream) because the loop
delivers at least once: a batch written and then redelivered after a crash must leave no
duplicate. One topic may feed several sinks (fan-out); the loop checkpoints a batch only once
every sink of its topic has written it, so a sink may see a batch again that another sink failed.

Errors, and what the loop does with them:
- a *transient* error (:meth:`Sink.is_transient`: connection refused, timeout, server overloaded)
  fails the whole batch: the loop pauses its partitions, retries the batch with backoff and never
  commits past it;
- :class:`Rejection` for single records the store refuses for good (a document too large, a
  constraint): the loop sends them to the dead-letter topic and the rest goes on;
- any other exception: the loop bisects the batch to find the records that fail and sends them to
  the DLQ with the error. If no record writes on its own (the failure is not the records': a bug,
  a schema drift), the service stops with a non-zero exit so a supervisor restarts it and an alert
  fires.

CPU-bound work (model encoding) must not run on the event loop: do it in
``await asyncio.to_thread(...)`` (or a process pool). The loop keeps polling, with the partitions
paused, while a write runs longer than ``ConsumerSettings.keepalive_s``: a write longer than
``max.poll.interval.ms`` keeps the group membership.

Optional capabilities, each a small subclass:
- :class:`DeletingSink`: a sink routed from a stream whose tombstones mean delete
  (``Stream.tombstone == "delete"``) must be one; the loop refuses the route at start otherwise.
- :class:`PartitionAwareSink`: hooks called when partitions are assigned and revoked.

State a sink may keep, and how it stays correct:
- Per-key state (a user's running profile) belongs to the partition of that key; streams keyed by
  the same entity are co-partitioned (see :mod:`polystream_common.topics`), so one instance owns
  all of a key's records. Load it in :meth:`PartitionAwareSink.on_assign` (or lazily), write it
  with the batch that changed it, and drop it in :meth:`PartitionAwareSink.on_revoke`.
- Redelivery: a batch may come again after a crash or a rebalance. State must be persisted in the
  same store write as the effect it summarises, together with the offset it has applied up to
  (a per-partition watermark), and a record at or below the watermark must be skipped. In-memory
  state is only a cache of what is stored: after a crash it is rebuilt from the store, never
  from memory.
- ``on_revoke`` runs after the loop has checkpointed what was written for those partitions and
  after any write in flight has finished; once it returns, the new owner may start: flush
  nothing there that was not already written with its batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from polystream_common.schemas import Event

E = TypeVar("E", bound=Event)
TopicPartitionId = tuple[str, int]


@dataclass(slots=True)
class SinkRecord(Generic[E]):
    """A validated event and where it came from in Kafka; ``raw`` is the value as read (what a
    dead letter carries). Treat it as immutable: it is not ``frozen`` only because one is built
    per record and a frozen dataclass costs 3-4x as much to build (about 1 us a record)."""

    value: E
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class Deletion:
    """A tombstone on a table stream: the entity whose Kafka key is ``key`` is gone."""

    key: bytes
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Rejection(Generic[E]):
    """A record the store refused for good, with the reason."""

    record: SinkRecord[E]
    error_class: str
    message: str


class TransientSinkError(Exception):
    """Raise (or subclass) to say: the store cannot take the batch now, retry it as a whole."""


class Sink(ABC, Generic[E]):
    """Writes batches of one stream to one store."""

    name: str = "sink"
    transient_errors: tuple[type[BaseException], ...] = (
        TransientSinkError,
        ConnectionError,
        TimeoutError,
    )
    """Exception types :meth:`is_transient` accepts; adapters add their driver's."""

    async def setup(self) -> None:
        """Connect and create what the store needs (tables, indexes); idempotent."""

    @abstractmethod
    async def write(self, batch: Sequence[SinkRecord[E]]) -> Sequence[Rejection[E]]:
        """Write the batch idempotently; return the records refused for good."""

    def is_transient(self, exc: BaseException) -> bool:
        """True if ``exc`` means "the store is unavailable now", not "these records fail"."""
        return isinstance(exc, self.transient_errors)

    async def close(self) -> None:
        """Release connections."""


class DeletingSink(Sink[E]):
    """A sink of a table stream, where a tombstone deletes the key's entity."""

    @abstractmethod
    async def delete(self, deletions: Sequence[Deletion]) -> None:
        """Delete the entities of ``deletions``, idempotently (deleting a missing one is fine).

        Within one batch the loop keeps only the latest record of each key, so a key is either
        written or deleted, never both: the order of ``write`` and ``delete`` does not matter.
        """


class PartitionAwareSink(Sink[E]):
    """A sink that keeps per-partition state; see the module docstring for the rules."""

    async def on_assign(self, partitions: Sequence[TopicPartitionId]) -> None:
        """Partitions now owned by this instance; records of them follow."""

    async def on_revoke(self, partitions: Sequence[TopicPartitionId]) -> None:
        """Partitions leaving this instance: drop their state."""
