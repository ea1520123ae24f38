"""The outbox relay's rounds on the real PostgreSQL, with a recording publisher standing in for
Kafka (the real broker is exercised end to end in tests/e2e/test_shop_outbox.py): a round that
fails to publish leaves its rows unpublished, a successful one marks exactly what it sent, two
relays at once never claim the same row (SKIP LOCKED), and the relay retries a refusing broker
with backoff, counted in the metrics."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from confluent_kafka.admin import AdminClient
from prometheus_client import REGISTRY

from polystream_common.kafka import DeliveryError
from polystream_common.settings import ConsumerSettings, KafkaSettings, PostgresSettings
from shop_api.relay import RELAY, purge_published, relay_once, run_relay
from shop_api.settings import RelaySettings, ShopApiSettings
from shop_api.store import SHOP_MIGRATIONS

pytestmark = pytest.mark.integration


class RecordingPublisher:
    def __init__(self, fail: bool = False, hold: threading.Event | None = None) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail = fail
        self.hold = hold
        self.entered = threading.Event()

    def publish(self, records: Sequence[tuple[str, bytes, bytes]]) -> None:
        self.entered.set()
        if self.hold is not None:
            self.hold.wait(10)
        if self.fail:
            raise DeliveryError("broker said no")
        self.sent.extend(records)


@pytest.fixture
async def pool(settings: PostgresSettings, schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(
        **settings.connect_kwargs(),
        min_size=1,
        max_size=4,
        server_settings={"search_path": f'"{schema}"'},
    )
    async with pool.acquire() as conn:
        await SHOP_MIGRATIONS.apply(conn, schema)
        await conn.executemany(
            "INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3)",
            [("order.placed", f"o{i}".encode(), f"v{i}".encode()) for i in range(10)],
        )
    yield pool
    await pool.close()


async def unpublished(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


async def test_a_failed_round_leaves_its_rows_for_the_next(pool: asyncpg.Pool) -> None:
    with pytest.raises(DeliveryError):
        await relay_once(pool, RecordingPublisher(fail=True), RelaySettings(batch_size=4))
    assert await unpublished(pool) == 10
    publisher = RecordingPublisher()
    assert await relay_once(pool, publisher, RelaySettings(batch_size=4)) == 4
    assert [key for _topic, key, _value in publisher.sent] == [b"o0", b"o1", b"o2", b"o3"]
    assert await unpublished(pool) == 6
    while await relay_once(pool, publisher, RelaySettings(batch_size=4)):
        pass
    assert len(publisher.sent) == 10 and len(set(publisher.sent)) == 10
    assert await unpublished(pool) == 0


async def test_two_relays_at_once_claim_different_rows(pool: asyncpg.Pool) -> None:
    release = threading.Event()
    first, second = RecordingPublisher(hold=release), RecordingPublisher()
    settings = RelaySettings(batch_size=6)
    held = asyncio.create_task(relay_once(pool, first, settings))
    # the first round has claimed rows 0-5 once its publish is entered; it waits there
    assert await asyncio.to_thread(first.entered.wait, 30)
    assert await relay_once(pool, second, settings) == 4
    release.set()
    assert await held == 6
    keys = [key for _t, key, _v in first.sent + second.sent]
    assert sorted(keys) == sorted(f"o{i}".encode() for i in range(10))
    assert [k for _t, k, _v in second.sent] == [b"o6", b"o7", b"o8", b"o9"]
    assert await unpublished(pool) == 0


class FlakyBroker(RecordingPublisher):
    """Refuses the first ``refusals`` rounds, then acknowledges."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    def publish(self, records: Sequence[tuple[str, bytes, bytes]]) -> None:
        if self.refusals:
            self.refusals -= 1
            raise DeliveryError("broker said no")
        super().publish(records)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_relay_retries_a_refusing_broker_with_backoff_and_the_metrics_show_it(
    pool: asyncpg.Pool, settings: PostgresSettings, schema: str, kafka_bootstrap: str
) -> None:
    prefix = f"it-relay-{uuid.uuid4().hex[:8]}."
    config = ShopApiSettings(
        postgres=settings,
        postgres_schema=schema,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=prefix),
        consumer=ConsumerSettings(backoff_initial_s=0.05, backoff_max_s=0.2),
    )
    kafka_retries = {"service": RELAY, "sink": "kafka", "error": "DeliveryError"}
    retries_before = sample("polystream_sink_retries_total", **kafka_retries)
    failures_before = sample("polystream_outbox_round_failures_total")
    broker, stop = FlakyBroker(refusals=3), asyncio.Event()
    relay = asyncio.create_task(run_relay(config, publisher=broker, stop=stop))
    try:
        for _ in range(300):
            if not await unpublished(pool):
                break
            await asyncio.sleep(0.05)
        assert await unpublished(pool) == 0
        assert sorted(key for _t, key, _v in broker.sent) == sorted(
            f"o{i}".encode() for i in range(10)
        )
        assert sample("polystream_sink_retries_total", **kafka_retries) - retries_before == 3
        assert sample("polystream_outbox_round_failures_total") - failures_before == 3
        assert sample("polystream_sink_up", service=RELAY, sink="kafka") == 1
    finally:
        stop.set()
        await asyncio.wait_for(relay, 30)
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        doomed = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if doomed:
            for future in admin.delete_topics(doomed).values():
                future.result()


async def test_the_purge_deletes_published_rows_past_retention_and_never_unpublished_ones(
    pool: asyncpg.Pool,
) -> None:
    # The fixture's ten rows: o0-o4 published 8 days ago, o5-o6 an hour ago, o7-o9 unpublished
    # (and created 8 days ago: age alone never deletes a row).
    await pool.execute(
        "UPDATE outbox SET created_at = now() - interval '8 days',"
        " published_at = CASE WHEN key < 'o5' THEN now() - interval '8 days'"
        " WHEN key < 'o7' THEN now() - interval '1 hour' END"
    )
    week = RelaySettings(retention_s=7 * 24 * 3600, purge_batch_size=2)
    before = sample("polystream_outbox_purged_total")
    assert await purge_published(pool, week) == 5  # in three statements: 2, 2, 1
    assert sample("polystream_outbox_purged_total") - before == 5
    left = await pool.fetch("SELECT key FROM outbox ORDER BY id")
    assert [bytes(r["key"]) for r in left] == [f"o{i}".encode() for i in range(5, 10)]
    assert await purge_published(pool, week) == 0
    assert await purge_published(pool, RelaySettings(retention_s=0)) == 0  # kept forever
    assert await unpublished(pool) == 3
