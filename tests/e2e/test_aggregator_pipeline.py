"""The aggregator end to end: producer -> Kafka -> aggregator (Quix Streams, exactly-once) ->
PostgreSQL and Kafka, SIGKILLed mid-run and restarted. Every closed window's counts, every score,
every sensor rollup and the set of anomalies must equal a recomputation from the same records
read back from Kafka; each poison record is in its DLQ once.

How the run is shaped so that "closed" is known and nothing is late:
- phase A (with poison) is produced and fully processed first;
- phase B starts well over ``GRACE_S`` later, so its first records close every window of A
  (written to PostgreSQL before the kill); the aggregator is SIGKILLed while B flows;
- after the restart has caught up, trailing records far ahead in event time (one per entity of
  their own, on every partition w.h.p.) close every window of B. Windows of the trailers stay
  open; they are left out of the comparison.

Each test runs in a namespace of its own (topics, schema, group): see conftest.py."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aggregator.engagement import (
    Score,
    epoch_ms,
    fold_window,
    interactions,
    split_entity_key,
    window_start_ms,
)
from aggregator.sensors import EwmStats, observe
from aggregator.settings import AggregatorSettings
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from polystream_common.schemas import SensorReading, UserEventV1
from polystream_common.topics import SENSOR_READINGS, USER_EVENTS, Stream

from .conftest import (
    COMMITTED_TIMEOUT_S,
    E2ENamespace,
    assert_dlq_holds_exactly,
    group_lag,
    postgres_kwargs,
    read_all,
    run_producer,
    wait_until,
)

pytestmark = pytest.mark.e2e

MODULE = "aggregator"
MIX = "user-events=1,sensors=1"
ROLLED_UP = "SELECT count FROM sensor_rollups WHERE sensor_id NOT LIKE 'trailer%'"
WINDOW_S = 1.0
GRACE_S = 8.0
PHASE_GAP_S = GRACE_S + 2 * WINDOW_S + 1
PHASE_A = 10_000  # records, user events and sensor readings half and half
PHASE_B = 30_000
PHASE_B_RATE = 5_000  # records/s: the aggregator is killed while phase B flows
POISON_RATE = 0.01
TRAILERS = 100
SETTINGS = AggregatorSettings()
WEIGHTS = SETTINGS.engagement.weights()
HALF_LIFE_MS = SETTINGS.engagement.half_life_s * 1000
ALPHA = SETTINGS.sensors.ewm_alpha
MIN_SAMPLES = SETTINGS.sensors.anomaly_min_samples
ANOMALY_Z = SETTINGS.sensors.anomaly_z


@pytest.fixture
def internal_topics(namespace: E2ENamespace, services: Any) -> Iterator[None]:
    """Quix Streams names its changelog and repartition topics after the consumer group
    (``changelog__<group>--...``), outside the namespace's prefix: delete them too (after the
    services are killed: this fixture depends on ``services``)."""
    yield
    admin = AdminClient({"bootstrap.servers": namespace.bootstrap})
    group = namespace.group(MODULE)
    # A member killed by SIGKILL stays in the group until its session times out; the
    # namespace's teardown cannot delete a group that is not empty.
    wait_until(lambda: group_is_empty(admin, group), 30, f"group {group} empty")
    topics = [t for t in admin.list_topics(timeout=10).topics if f"__{group}--" in t]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            future.result()


def group_is_empty(admin: AdminClient, group: str) -> bool:
    description = admin.describe_consumer_groups([group], request_timeout=10)[group].result()
    return not description.members


def aggregator_env(ns: E2ENamespace, state_dir: Path) -> dict[str, str]:
    return ns.env(
        MODULE,
        STATE_DIR=str(state_dir),
        INSTANCE_ID="e2e",
        CONSUMER__SESSION_TIMEOUT_MS="6000",
        CONSUMER__COMMIT_INTERVAL_S="0.5",
        ENGAGEMENT__WINDOW_S=str(WINDOW_S),
        SENSORS__WINDOW_S=str(WINDOW_S),
        WINDOW_GRACE_S=str(GRACE_S),
    )


def produce(ns: E2ENamespace, tmp_path: Path, count: int, seed: int, *extra: str) -> Any:
    report = run_producer(
        ["load", "--count", str(count), "--mix", MIX, "--seed", str(seed), *extra],
        tmp_path / f"producer-{seed}.json",
        ns.env("producer"),
    )
    assert report["errors"] == 0 and int(report["acked"]) == count
    return report


def repartition_topic(ns: E2ENamespace) -> str:
    return f"repartition__{ns.group(MODULE)}--{ns.stream(USER_EVENTS).topic}--entity"


def all_consumed(ns: E2ENamespace) -> bool:
    """The inputs consumed to their ends, and the repartition topic too: there each partition
    ends with the marker of the transaction that wrote it, which no consumer commits past."""
    group = ns.group(MODULE)
    inputs = [ns.stream(USER_EVENTS).topic, ns.stream(SENSOR_READINGS).topic]
    try:
        return (
            all(group_lag(ns.bootstrap, group, t) == 0 for t in inputs)
            and group_lag(ns.bootstrap, group, repartition_topic(ns)) <= USER_EVENTS.partitions
        )
    except Exception:  # the repartition topic does not exist yet
        return False


def committed_total(ns: E2ENamespace, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": ns.bootstrap, "group.id": ns.group(MODULE)})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed(
            [TopicPartition(topic, p) for p in partitions], timeout=COMMITTED_TIMEOUT_S
        )
        return sum(max(tp.offset, 0) for tp in committed)
    finally:
        consumer.close()


def produce_trailers(ns: E2ENamespace) -> None:
    """Records ten minutes ahead in event time, one per entity of their own: they close every
    window before them on every partition (keys spread over all of them)."""
    later = datetime.now(UTC) + timedelta(minutes=10)
    producer = Producer({"bootstrap.servers": ns.bootstrap})
    for i in range(TRAILERS):
        event = UserEventV1(
            event_id=uuid.uuid4(),
            event_time=later,
            user_id=f"trailer-user-{i}",
            session_id="trailer",
            event_type="view",
            product_id=f"trailer-{i:03d}",
        )
        reading = SensorReading(
            event_id=uuid.uuid4(),
            event_time=later,
            sensor_id=f"trailer-{i:03d}",
            sensor_type="co2",
            location="nowhere",
            unit="ppm",
            value=400.0,
        )
        for stream, record in ((USER_EVENTS, event), (SENSOR_READINGS, reading)):
            producer.produce(ns.stream(stream).topic, Stream.encode(record), record.key())
    assert producer.flush(30) == 0


def valid_records(ns: E2ENamespace, stream: Stream[Any], expected: int) -> list[Any]:
    """The stream's valid records as read back from Kafka, in partition order, trailers out."""
    records = read_all(ns.bootstrap, ns.stream(stream).topic, expected, timeout_s=120)
    assert len(records) == expected
    decoded = []
    for record in records:
        try:
            event = stream.decode(record.value())
        except Exception:
            continue
        if not str(getattr(event, stream.key_field)).startswith("trailer"):
            decoded.append(event)
    return decoded


def expected_windows(events: list[Any]) -> dict[tuple[str, str, int, str], int]:
    duration = int(WINDOW_S * 1000)
    counts: Counter[tuple[str, str, int, str]] = Counter()
    for event in events:
        start = window_start_ms(epoch_ms(event.event_time), duration)
        for interaction in interactions(event):
            entity_type, entity_id = split_entity_key(interaction["entity"])
            counts[entity_type, entity_id, start, interaction["type"]] += 1
    return dict(counts)


def expected_scores(windows: dict[tuple[str, str, int, str], int]) -> dict[tuple[str, str], Score]:
    per_entity: dict[tuple[str, str], dict[int, dict[str, int]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for (entity_type, entity_id, start, kind), n in windows.items():
        per_entity[entity_type, entity_id][start][kind] = n
    scores = {}
    duration = int(WINDOW_S * 1000)
    for entity, by_start in per_entity.items():
        score = Score()
        for start in sorted(by_start):
            score = fold_window(score, start + duration, by_start[start], WEIGHTS, HALF_LIFE_MS)
        scores[entity] = score
    return scores


def expected_rollups(
    readings: list[SensorReading],
) -> dict[tuple[str, int], tuple[int, float, float, float]]:
    duration = int(WINDOW_S * 1000)
    values: dict[tuple[str, int], list[float]] = defaultdict(list)
    for reading in readings:
        start = window_start_ms(epoch_ms(reading.event_time), duration)
        values[reading.sensor_id, start].append(reading.value)
    return {k: (len(v), min(v), max(v), sum(v) / len(v)) for k, v in values.items()}


def expected_anomalies(readings: list[SensorReading]) -> set[str]:
    """Each sensor's readings in partition order (one sensor, one partition) through the rule."""
    stats: dict[str, EwmStats | None] = defaultdict(lambda: None)
    flagged = set()
    for reading in readings:
        stats[reading.sensor_id], verdict = observe(
            stats[reading.sensor_id], reading.value, ALPHA, MIN_SAMPLES
        )
        if verdict.is_anomaly(ANOMALY_Z):
            flagged.add(str(reading.event_id))
    return flagged


def fetch(ns: E2ENamespace, query: str) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(
            **postgres_kwargs(ns.stack),
            server_settings={"search_path": f'"{ns.postgres_schema}"'},
        )
        try:
            if not await conn.fetchval("SELECT to_regclass('sensor_rollups') IS NOT NULL"):
                return []
            return list(await conn.fetch(query))
        finally:
            await conn.close()

    return asyncio.run(run())


def stored_windows(ns: E2ENamespace) -> dict[tuple[str, str, int, str], int]:
    rows = fetch(ns, "SELECT * FROM engagement_windows WHERE entity_id NOT LIKE 'trailer%'")
    return {
        (r["entity_type"], r["entity_id"], epoch_ms(r["window_start"]), r["event_type"]): r["count"]
        for r in rows
    }


def test_aggregates_are_exact_after_sigkill_and_restart(
    namespace: E2ENamespace, services: Any, tmp_path: Path, internal_topics: None
) -> None:
    ns = namespace
    env = aggregator_env(ns, tmp_path / "state")
    aggregator = services(MODULE, env)

    # Phase A, with poison, processed to the end.
    report_a = produce(ns, tmp_path, PHASE_A, 11, "--poison-rate", str(POISON_RATE))
    wait_until(lambda: all_consumed(ns), 180, "phase A consumed", service=aggregator)
    time.sleep(PHASE_GAP_S)

    # Phase B, paced; the aggregator dies by SIGKILL while it flows.
    producer_b = threading.Thread(
        target=produce, args=(ns, tmp_path, PHASE_B, 12, "--rate", str(PHASE_B_RATE))
    )
    producer_b.start()
    user_topic = ns.stream(USER_EVENTS).topic
    before = committed_total(ns, user_topic)
    # B's first records through the repartition topic close A's windows (written before the
    # checkpoint that commits them).
    wait_until(
        lambda: committed_total(ns, user_topic) > before and stored_windows(ns),
        60,
        "phase B partly committed, phase A's windows written",
        every_s=0.1,
        service=aggregator,
    )
    aggregator.kill()
    killed_at = committed_total(ns, user_topic)
    producer_b.join(120)

    restarted = services(MODULE, env)
    # Trailers only once B is caught up: in a backlog, a trailer repartitioned from one input
    # partition could overtake B's records of another and make them late (see the docstring).
    wait_until(lambda: all_consumed(ns), 180, "phase B consumed after restart", service=restarted)
    produce_trailers(ns)

    report_b = json.loads((tmp_path / "producer-12.json").read_text())
    sent = Counter[str]()
    for report in (report_a, report_b):
        sent.update({t: int(n) for t, n in report["per_topic"].items()})
    events = valid_records(ns, USER_EVENTS, sent[user_topic] + TRAILERS)
    readings = valid_records(ns, SENSOR_READINGS, sent[ns.stream(SENSOR_READINGS).topic] + TRAILERS)

    windows = expected_windows(events)
    total = sum(windows.values())
    wait_until(
        lambda: sum(stored_windows(ns).values()) >= total,
        240,
        f"{total} interactions in closed windows",
        every_s=1,
    )
    wait_until(
        lambda: (
            sum(
                r["count"]
                for r in fetch(
                    ns, "SELECT count FROM sensor_rollups WHERE sensor_id NOT LIKE 'trailer%'"
                )
            )
            >= len(readings)
        ),
        120,
        f"{len(readings)} readings in closed windows",
        every_s=1,
    )
    time.sleep(2)  # a last checkpoint would show a surplus

    assert stored_windows(ns) == windows

    scores = expected_scores(windows)
    rows = fetch(ns, "SELECT * FROM engagement_scores WHERE entity_id NOT LIKE 'trailer%'")
    assert {(r["entity_type"], r["entity_id"]) for r in rows} == set(scores)
    for row in rows:
        want = scores[row["entity_type"], row["entity_id"]]
        assert epoch_ms(row["as_of"]) == want.as_of_ms
        assert row["score"] == pytest.approx(want.score, rel=1e-12)
        stored = {
            "view": row["views"],
            "click": row["clicks"],
            "add_to_cart": row["add_to_carts"],
            "purchase": row["purchases"],
            "campaign_view": row["campaign_views"],
            "campaign_click": row["campaign_clicks"],
        }
        assert {k: v for k, v in stored.items() if v} == want.totals

    rollups = {
        (r["sensor_id"], epoch_ms(r["window_start"])): (r["count"], r["min"], r["max"], r["mean"])
        for r in fetch(ns, "SELECT * FROM sensor_rollups WHERE sensor_id NOT LIKE 'trailer%'")
    }
    want_rollups = expected_rollups(readings)
    assert rollups.keys() == want_rollups.keys()
    for key, (count, low, high, mean) in want_rollups.items():
        assert rollups[key][:3] == (count, low, high)
        assert rollups[key][3] == pytest.approx(mean, rel=1e-12)

    # Published once each (read_committed): the aborted transaction of the kill left nothing.
    anomalies = read_all(ns.bootstrap, f"{ns.topic_prefix}sensor.anomalies", 0, timeout_s=30)
    flagged = [str(json.loads(m.value())["event_id"]) for m in anomalies]
    assert len(flagged) == len(set(flagged))
    assert set(flagged) == expected_anomalies(readings)

    for stream in (USER_EVENTS, SENSOR_READINGS):
        poison = int(report_a["poison"][ns.stream(stream).topic])
        assert_dlq_holds_exactly(ns.bootstrap, ns.stream(stream), poison)

    # The kill was mid-run: B's records were still to be committed when it came.
    assert killed_at < sent[user_topic]
    assert restarted.terminate() == 0  # SIGTERM: a clean stop, the group left
