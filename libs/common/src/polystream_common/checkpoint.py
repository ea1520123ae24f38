"""The checkpoint: dead letters and consumer offsets, committed together in one Kafka transaction.

The loop calls :meth:`Checkpoint.commit` only after the sink has written the batch. Producing the
batch's dead letters and committing its offsets in one transaction (KIP-447:
``send_offsets_to_transaction`` with the consumer's group metadata) means a crash before the
commit leaves neither: the batch is redelivered, the idempotent sink absorbs the rewrite, and the
DLQ (read with ``isolation.level=read_committed``, librdkafka's default) holds each poison record
exactly once. A restarted instance with the same ``transactional.id`` fences the dead one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaException, Producer, TopicPartition

from polystream_common.dlq import DeadLetter

log = logging.getLogger(__name__)


class FatalCheckpointError(RuntimeError):
    """The producer was fenced or hit a fatal error: this instance must stop and be restarted."""


class Checkpoint(Protocol):
    def commit(self, letters: Sequence[DeadLetter], offsets: Sequence[TopicPartition]) -> None:
        """Publish ``letters`` and commit ``offsets`` atomically, or raise and publish nothing."""
        ...


class KafkaTransactionalCheckpoint:
    """:class:`Checkpoint` on a transactional producer bound to the consumer's group."""

    def __init__(self, producer: Producer, consumer: Any, service: str) -> None:
        self._producer = producer
        self._consumer = consumer
        self._service = service

    def init(self, timeout_s: float = 30.0) -> None:
        """Register the transactional.id, aborting what a previous instance left open."""
        self._producer.init_transactions(timeout_s)

    def commit(self, letters: Sequence[DeadLetter], offsets: Sequence[TopicPartition]) -> None:
        if not letters and not offsets:
            return
        self._producer.begin_transaction()
        try:
            for letter in letters:
                self._produce(letter)
            if offsets:
                self._producer.send_offsets_to_transaction(
                    list(offsets), self._consumer.consumer_group_metadata()
                )
            self._producer.commit_transaction()
        except KafkaException as exc:
            if exc.args[0].fatal():
                raise FatalCheckpointError(exc.args[0].str()) from exc
            self._producer.abort_transaction()  # the loop retries the whole checkpoint
            raise
        except BaseException:
            self._producer.abort_transaction()
            raise

    def _produce(self, letter: DeadLetter) -> None:
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
                self._producer.poll(0.05)
