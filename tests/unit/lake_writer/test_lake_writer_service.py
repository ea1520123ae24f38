"""lake-writer on the real consumer loop with a fake consumer: every valid record lands once in the
lake, even when everything written is redelivered cut differently; poison goes to the DLQ."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from confluent_kafka import TopicPartition

from lake_writer.bootstrap import bootstrap
from lake_writer.settings import LakeWriterSettings
from lake_writer.sink import LakeSink
from polystream_common.dlq import DeadLetter
from polystream_common.loop import ConsumeLoop, Route, check_routes
from polystream_common.metrics import ConsumerMetrics
from polystream_common.schemas import UserEventV1, UserEventV2
from polystream_common.settings import ConsumerSettings
from polystream_common.sink import DeletingSink, SinkRecord
from polystream_common.testing import FakeConsumer, RecordingCheckpoint
from polystream_common.topics import PRODUCTS, USER_EVENTS
from polystream_lake import USER_EVENTS_LAKE, open_lake

TOPIC = USER_EVENTS.topic
POISON = b'{"not": "an event"}'


def user_event(i: int) -> bytes:
    common: dict[str, Any] = {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"e{i}"),
        "event_time": datetime(2026, 11, 30, 23, tzinfo=UTC) + timedelta(minutes=7 * i),
        "user_id": f"u{i % 5}",
        "session_id": f"s{i % 9}",
        "event_type": "view",
    }
    event = UserEventV1(**common) if i % 3 else UserEventV2(**common, device="web")
    return USER_EVENTS.encode(event)


def the_log(n: int, partitions: int = 3) -> dict[tuple[str, int], list[bytes | None]]:
    """``n`` records per partition, one in 10 poison."""
    return {
        (TOPIC, p): [POISON if i % 10 == 9 else user_event(p * 10_000 + i) for i in range(n)]
        for p in range(partitions)
    }


class UncommittedCheckpoint(RecordingCheckpoint):
    """A checkpoint that never commits: as if the service died after every write."""

    def commit(
        self, letters: Sequence[DeadLetter], offsets: Sequence[TopicPartition], timeout_s: float
    ) -> None:
        self.letters.extend(letters)


def run(
    root: Path,
    consumer: FakeConsumer,
    batch_size: int,
    checkpoint: RecordingCheckpoint | None = None,
) -> RecordingCheckpoint:
    settings = ConsumerSettings(
        group_id="t", batch_size=batch_size, backoff_initial_s=0.001, backoff_max_s=0.01
    )
    checkpoint = checkpoint or RecordingCheckpoint(consumer)
    sink = LakeSink(open_lake(root), USER_EVENTS_LAKE, "t")
    loop = ConsumeLoop(
        consumer, [Route(USER_EVENTS, sink)], checkpoint, settings, ConsumerMetrics("t")
    )
    consumer.stop_when_drained = loop.stop
    asyncio.run(loop.run())
    return checkpoint


def lake_event_ids(root: Path) -> list[str]:
    ids: list[str] = []
    for path in root.rglob("*.parquet"):
        ids.extend(pq.read_table(path, columns=["event_id"])["event_id"].to_pylist())
    return ids


def test_valid_records_land_once_and_poison_goes_to_the_dlq(tmp_path: Path) -> None:
    log = the_log(50)
    consumer = FakeConsumer(log)
    checkpoint = run(tmp_path, consumer, batch_size=7)
    ids = lake_event_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 3 * 45
    assert len(checkpoint.letters) == 3 * 5
    assert consumer.committed == {(TOPIC, p): 50 for p in range(3)}


def test_everything_redelivered_cut_differently_still_lands_once(tmp_path: Path) -> None:
    log = the_log(60)
    # the first run writes every batch and dies before any checkpoint
    first = FakeConsumer(log)
    run(tmp_path, first, batch_size=7, checkpoint=UncommittedCheckpoint(first))
    assert len(lake_event_ids(tmp_path)) == 3 * 54
    # the second resumes from a committed offset in the middle of the first's batches
    second = FakeConsumer(log, committed={(TOPIC, 0): 13, (TOPIC, 1): 0, (TOPIC, 2): 40})
    run(tmp_path, second, batch_size=11, checkpoint=UncommittedCheckpoint(second))
    # and the third from the start, in big batches
    third = FakeConsumer(log)
    run(tmp_path, third, batch_size=500)
    ids = lake_event_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 3 * 54


def test_the_settings_default_to_the_local_stack_lake(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = LakeWriterSettings()
    assert settings.metrics_port == 9107
    assert settings.consumer.group_id == "lake-writer"
    assert settings.lake.uri == ".stack/lake"
    monkeypatch.setenv("LAKE_WRITER_LAKE__URI", "s3://bucket/lake")
    monkeypatch.setenv("LAKE_WRITER_LAKE__S3_ENDPOINT", "127.0.0.1:9000")
    settings = LakeWriterSettings()
    assert (settings.lake.uri, settings.lake.s3_endpoint) == ("s3://bucket/lake", "127.0.0.1:9000")
    assert settings.lake.s3_scheme == "https"  # the rest of the default kept


def test_bootstrap_routes_every_stream_into_one_lake(tmp_path: Path) -> None:
    routes = bootstrap(LakeWriterSettings(), open_lake(tmp_path))
    check_routes(routes)
    assert [r.stream.topic for r in routes] == [
        "sensor.readings",
        "user.events",
        "chat.messages",
        "products.catalog",
    ]
    products = next(r for r in routes if r.stream == PRODUCTS)
    assert isinstance(products.sink, DeletingSink)
    assert all(r.sink.is_transient(OSError("disk gone")) for r in routes)
    assert not routes[0].sink.is_transient(ValueError("a bug"))


def test_a_products_tombstone_deletes_nothing_and_the_records_land(tmp_path: Path) -> None:
    from polystream_common.schemas import Product
    from polystream_lake import PRODUCTS_LAKE

    def product(i: int) -> bytes:
        return PRODUCTS.encode(
            Product(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"p{i}"),
                event_time=datetime(2026, 11, 30, tzinfo=UTC),
                product_id=f"product-{i}",
                name=f"Product {i}",
                description="",
                category="books",
                price=1.5 * i,
                tags=("a", "b"),
            )
        )

    topic = PRODUCTS.topic
    log: dict[tuple[str, int], list[bytes | None]] = {(topic, 0): [product(0), product(1), None]}
    keys: dict[tuple[str, int], list[bytes | None]] = {
        (topic, 0): [b"product-0", b"product-1", b"product-0"]
    }
    consumer = FakeConsumer(log, keys=keys)
    settings = ConsumerSettings(group_id="t", batch_size=10)
    sink = LakeSink(open_lake(tmp_path), PRODUCTS_LAKE, "t")
    loop = ConsumeLoop(
        consumer,
        [Route(PRODUCTS, sink)],
        RecordingCheckpoint(consumer),
        settings,
        ConsumerMetrics("t"),
    )
    consumer.stop_when_drained = loop.stop
    asyncio.run(loop.run())
    tables = [pq.read_table(p) for p in tmp_path.rglob("*.parquet")]
    # the batch's latest word on product-0 is its deletion: only product-1 is written
    assert [t["product_id"].to_pylist() for t in tables] == [["product-1"]]
    assert tables[0]["tags"].to_pylist() == [["a", "b"]]
    assert consumer.committed == {(topic, 0): 3}


def test_the_compact_command_compacts_settled_past_dates_and_prints_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from lake_writer.main import main
    from polystream_lake import LakeWriter

    writer = LakeWriter(open_lake(tmp_path), USER_EVENTS_LAKE)
    records = [SinkRecord(USER_EVENTS.decode(user_event(i)), TOPIC, 0, i) for i in range(30)]
    for start in range(0, 30, 5):
        writer.write(records[start : start + 5])
    before = len(list(tmp_path.rglob("*.parquet")))
    monkeypatch.setenv("LAKE_WRITER_LAKE__URI", str(tmp_path))
    monkeypatch.setenv("LAKE_WRITER_COMPACTION__MIN_AGE_S", "0")
    with pytest.raises(SystemExit) as exit_info:
        main(["compact", "--before", "2100-01-01"])
    assert exit_info.value.code in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert report["streams"]["user_events"]["rows"] == 30
    after = list(tmp_path.rglob("*.parquet"))
    assert len(after) < before and all(p.name.startswith("compacted+") for p in after)
    ids = lake_event_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 30
