"""The checkpoint: dead letters and consumer offsets, committed together in one Kafka transaction.

The loop calls :meth:`Checkpoint.commit` only after the sink has written the batch. Producing the
batch's dead letters and committing its offsets in one transaction (KIP-447:
``send_offsets_to_transaction`` with the consumer's group metadata) means a crash before the
commit leaves neither: the batch is redelivered, the idempotent sink absorbs the rewrite, and the
DLQ (read with ``isolation.level=read_committed``, librdkafka's default) holds each poison record
exactly once. A restarted instance with the same ``transactional.id`` fences the dead one.

Every commit has a deadline: a broker that does not answer, or a local queue that stays full,
fails the commit after ``timeout_s`` (the loop then retries it, or, on the rebalance path, leaves
the partitions to their next owner) instead of hanging the consumer. A transaction that cannot
even be aborted leaves the producer in an unknown state: that is fatal, the service restarts and
the new instance fences what was left open.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaException, Producer, TopicPartition

from polystream_common.dlq import DeadLetter

log = logging.getLogger(__name__)


class FatalCheckpointError(RuntimeError):
    """The producer was fenced or hit a fatal error: this instance must stop and be restarted."""


class Checkpoint(Protocol):
    def init(self, timeout_s: float = 30.0) -> None:
        """Get ready to commit (register with the broker); retried by the caller while it fails."""
        ...

    def commit(
        self, letters: Sequence[DeadLetter], offsets: Sequence[TopicPartition], timeout_s: float
    ) -> None:
        """Publish ``letters`` and commit ``offsets`` atomically within ``timeout_s``, or raise
        (``TimeoutError`` past the deadline) and publish nothing."""
        ...


class Deadline:
    """A point in time some work must finish by; ``remaining()`` is what is left of it."""

    def __init__(self, seconds: float) -> None:
        self._at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._at - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() == 0.0


class KafkaTransactionalCheckpoint:
    """:class:`Checkpoint` on a transactional producer bound to the consumer's group."""

    def __init__(self, producer: Producer, consumer: Any, service: str) -> None:
        self._producer = producer
        self._consumer = consumer
        self._service = service

    def init(self, timeout_s: float = 30.0) -> None:
        """Register the transactional.id, aborting what a previous instance left open."""
        self._producer.init_transactions(timeout_s)

    def commit(
        self, letters: Sequence[DeadLetter], offsets: Sequence[TopicPartition], timeout_s: float
    ) -> None:
        if not letters and not offsets:
            return
        deadline = Deadline(timeout_s)
        self._producer.begin_transaction()
        try:
            for letter in letters:
                self._produce(letter, deadline)
            if offsets:
                self._producer.send_offsets_to_transaction(
                    list(offsets), self._consumer.consumer_group_metadata(), _left(deadline)
                )
            self._producer.commit_transaction(_left(deadline))
        except KafkaException as exc:
            if exc.args[0].fatal():
                raise FatalCheckpointError(exc.args[0].str()) from exc
            self._abort(deadline)  # the loop retries the whole checkpoint
            raise
        except BaseException:
            self._abort(deadline)
            raise

    def _abort(self, deadline: Deadline) -> None:
        try:
            # At least a second even past the deadline: an abort that cannot run is fatal.
            self._producer.abort_transaction(max(1.0, deadline.remaining()))
        except KafkaException as exc:
            raise FatalCheckpointError(f"transaction could not be aborted: {exc}") from exc

    def _produce(self, letter: DeadLetter, deadline: Deadline) -> None:
        while True:
            try:
                self._producer.produce(
                    letter.dlq_topic,
                    value=letter.value,
                    key=letter.key,
                    headers=letter.headers(self._service),
                )
                return
            except BufferError:
                if deadline.expired():
                    raise TimeoutError("producer queue full past the deadline") from None
                self._producer.poll(min(0.05, deadline.remaining()))


def _left(deadline: Deadline) -> float:
    """A librdkafka timeout from a deadline; raises once it has passed (0 would mean "no wait")."""
    remaining = deadline.remaining()
    if remaining == 0.0:
        raise TimeoutError("checkpoint deadline passed")
    return remaining
