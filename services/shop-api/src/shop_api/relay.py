"""The outbox relay (``python -m shop_api relay``): committed outbox rows -> Kafka.

Delivery is **at least once**, with the order id as the key of ``order.placed`` and
deterministic event ids (see :mod:`shop_api.events`); consumers dedupe by order id / event id.
The order of one round, and what a crash at each point leaves:

1. In one PostgreSQL transaction, claim the oldest unpublished rows
   (``FOR UPDATE SKIP LOCKED``: a second relay replica takes other rows, never the same ones).
2. Produce them (the shared idempotent :class:`EventProducer`: acks=all, no duplicates from the
   producer's own retries, delivery metrics) and flush: every record is acknowledged by the
   broker, or the round fails and the transaction rolls back (the rows stay unpublished and are
   retried).
3. Mark them ``published_at = now()`` and commit.

Published rows are kept ``retention_s`` (a week by default: what was sent, and when, for
support) and then deleted by the relay, in batches of their own transaction, so the table and
its unpublished-rows index stay small. An unpublished row is never deleted, however old.

A crash before 2 completes publishes nothing (or records the round retries); a crash between 2
and 3 (the window the ``kill_after_produce`` fault opens) leaves the rows unpublished in
PostgreSQL though they are in Kafka: the next round publishes them again, so a consumer sees the
same order id twice and keeps one. A committed order is therefore always published, at least
once; an order that rolled back has no outbox row and is never published.

Why not a transactional producer: a Kafka transaction makes the records of a round visible
together to a read_committed consumer, but the Kafka commit and the PostgreSQL mark are still two
commits; a crash between them republishes the round in a new transaction, and the consumer sees
it twice anyway. Exactly-once would need the mark inside Kafka's transaction (a consumer-side
offset) or dedupe downstream; dedupe by id is simpler and every sink of ours already writes by id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Sequence
from typing import Protocol

import asyncpg
from prometheus_client import Counter, Gauge

from polystream_common.kafka import DeliveryError, EventProducer, build_admin
from polystream_common.metrics import ConsumerMetrics
from polystream_common.runtime import StoppedBeforeReady, retry_until_stopped, sleep_unless_stopped
from polystream_common.topics import ORDER_PLACED, USER_EVENTS, ensure_topics
from shop_api.settings import RelaySettings, ShopApiSettings
from shop_api.store import open_pool

log = logging.getLogger(__name__)

PUBLISHED = Counter(
    "polystream_outbox_published_total", "Outbox rows published to Kafka, by topic.", ["topic"]
)
BACKLOG = Gauge("polystream_outbox_backlog", "Outbox rows not published yet.")
OLDEST_AGE = Gauge(
    "polystream_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (0 when none): how late order.placed is.",
)
ROUND_FAILURES = Counter(
    "polystream_outbox_round_failures_total", "Relay rounds that failed and were retried."
)
PURGED = Counter(
    "polystream_outbox_purged_total", "Published outbox rows deleted after their retention."
)


BACKLOG_EVERY_S = 1.0
"""How often the backlog gauges are refreshed (one count over the partial index)."""

RELAY = "shop-api-relay"
"""The relay's service label in the metrics (start-up and round failures, deliveries)."""


class OutboxPublisher(Protocol):
    def publish(self, records: Sequence[tuple[str, bytes, bytes]]) -> None:
        """Send (topic, key, value) records and return once all are acknowledged; raise
        :class:`DeliveryError` if any was not."""


class KafkaOutboxPublisher:
    """The shared :class:`EventProducer` (idempotent); topics get the settings' prefix."""

    def __init__(self, settings: ShopApiSettings) -> None:
        self._prefix = settings.kafka.topic_prefix
        self._timeout_s = settings.relay.flush_timeout_s
        self._producer = EventProducer.build(
            settings.kafka, settings.relay.producer, client_id=RELAY, service=RELAY
        )

    def publish(self, records: Sequence[tuple[str, bytes, bytes]]) -> None:
        for topic, key, value in records:
            self._producer.send_raw(self._prefix + topic, key, value)
        self._producer.flush(self._timeout_s)

    def close(self) -> None:
        """Deliver what a failed round left queued (its rows go out again anyway: at least
        once), within the flush timeout."""
        try:
            self._producer.flush(self._timeout_s)
        except DeliveryError as exc:
            log.warning("closing the relay's producer: %s", exc)


def _fault(where: str, wanted: str) -> None:
    if where == wanted:
        log.critical("fault injection: killing the relay %s", where.removeprefix("kill_"))
        os.kill(os.getpid(), signal.SIGKILL)


async def relay_once(
    pool: asyncpg.Pool, publisher: OutboxPublisher, settings: RelaySettings
) -> int:
    """One round (see the module docstring); returns how many rows it published."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT id, topic, key, payload FROM outbox WHERE published_at IS NULL"
            " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            settings.batch_size,
        )
        if not rows:
            return 0
        _fault("kill_before_produce", settings.fault)
        records = [(r["topic"], bytes(r["key"]), bytes(r["payload"])) for r in rows]
        await asyncio.to_thread(publisher.publish, records)
        _fault("kill_after_produce", settings.fault)
        await conn.execute(
            "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
            [r["id"] for r in rows],
        )
    for topic, _key, _value in records:
        PUBLISHED.labels(topic).inc()
    return len(rows)


async def purge_published(pool: asyncpg.Pool, settings: RelaySettings) -> int:
    """Delete the rows published more than ``retention_s`` ago, ``purge_batch_size`` per
    statement (each its own transaction: short locks), oldest ids first; returns how many."""
    if not settings.retention_s:
        return 0
    purged = 0
    while True:
        status = await pool.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
            " WHERE published_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2)",
            settings.retention_s,
            settings.purge_batch_size,
        )
        deleted = int(status.split()[-1])  # "DELETE <n>"
        purged += deleted
        PURGED.inc(deleted)
        if deleted < settings.purge_batch_size:
            return purged


async def observe_backlog(pool: asyncpg.Pool) -> None:
    row = await pool.fetchrow(
        "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age"
        " FROM outbox WHERE published_at IS NULL"
    )
    assert row is not None
    BACKLOG.set(row["n"])
    OLDEST_AGE.set(float(row["age"]))


async def run_relay(
    settings: ShopApiSettings,
    *,
    publisher: OutboxPublisher | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Relay until ``stop`` (SIGTERM/SIGINT when none is given). Retries with backoff
    (``SHOP_API_CONSUMER__BACKOFF_*``) while PostgreSQL or Kafka is down, at start-up and
    between rounds, each counted in the metrics as the consumer loop's retries are. Any other
    error stops the relay loudly: it is a bug, and the rows stay unpublished for the next run."""
    stopping = stop or asyncio.Event()
    if stop is None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
    metrics = ConsumerMetrics(RELAY)
    prefix = settings.kafka.topic_prefix
    try:
        await retry_until_stopped(
            "kafka-topics",
            lambda: asyncio.to_thread(
                ensure_topics,
                build_admin(settings.kafka),
                [ORDER_PLACED.namespaced(prefix), USER_EVENTS.namespaced(prefix)],
            ),
            metrics,
            stopping,
            settings.consumer,
        )
        pool = await retry_until_stopped(
            "postgres",
            lambda: open_pool(settings.postgres, settings.postgres_schema, max_size=2),
            metrics,
            stopping,
            settings.consumer,
        )
    except StoppedBeforeReady:
        return
    active = publisher or KafkaOutboxPublisher(settings)
    backoff = settings.consumer
    delay = backoff.backoff_initial_s
    failing: str | None = None  # the server the last round failed on
    observed_at = purged_at = 0.0
    log.info("relaying the outbox", extra={"schema": settings.postgres_schema})
    try:
        while not stopping.is_set():
            try:
                published = await relay_once(pool, active, settings.relay)
                if failing is not None:
                    metrics.sink_up(failing, True)
                    failing, delay = None, backoff.backoff_initial_s
                if time.monotonic() - observed_at >= BACKLOG_EVERY_S:  # busy or idle
                    await observe_backlog(pool)
                    observed_at = time.monotonic()
                if time.monotonic() - purged_at >= settings.relay.purge_every_s:
                    await purge_published(pool, settings.relay)
                    purged_at = time.monotonic()
            except (OSError, asyncpg.PostgresError, DeliveryError) as exc:
                ROUND_FAILURES.inc()
                failing = "kafka" if isinstance(exc, DeliveryError) else "postgres"
                metrics.failing(failing, exc)
                log.warning("relay round failed, retrying: %s", exc)
                await sleep_unless_stopped(stopping, delay)
                delay = min(delay * 2, backoff.backoff_max_s)
                continue
            if not published:
                await sleep_unless_stopped(stopping, settings.relay.idle_poll_s)
    finally:
        if isinstance(active, KafkaOutboxPublisher):
            await asyncio.to_thread(active.close)
        await pool.close()
