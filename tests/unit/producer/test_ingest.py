"""File ingestion: bad lines are reported with file and line number and sent to the DLQ."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from polystream_common.dlq import (
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_SERVICE,
    HEADER_TOPIC,
)
from polystream_common.schemas import Event, Product, UserEventV1
from polystream_common.topics import PRODUCTS, SENSOR_READINGS, Stream
from producer.ingest import BadLine, csv_record, ingest, parse_file

SAMPLES = Path(__file__).resolve().parents[3] / "services" / "producer" / "samples"


def split(path: Path, kind: str) -> tuple[list[Event], list[BadLine]]:
    items = list(parse_file(path, kind))
    return (
        [i for i in items if not isinstance(i, BadLine)],
        [i for i in items if isinstance(i, BadLine)],
    )


def test_jsonl_sensor_dump_reports_the_bad_line_number() -> None:
    good, bad = split(SAMPLES / "sensors.jsonl", "sensors")
    assert len(good) == 7
    assert [(b.line, b.error_class) for b in bad] == [(6, "SchemaViolation")]
    assert bad[0].path.endswith("sensors.jsonl")
    assert bad[0].raw.startswith(b'{"event_id": "not-a-uuid"')


def test_csv_user_events_are_coerced_and_an_unknown_event_type_is_refused() -> None:
    good, bad = split(SAMPLES / "user-events.csv", "user-events")
    assert len(good) == 6 and all(isinstance(e, UserEventV1) for e in good)
    purchase = next(e for e in good if isinstance(e, UserEventV1) and e.event_type == "purchase")
    assert purchase.price == 261.61 and purchase.quantity == 3
    assert [(b.line, b.error_class) for b in bad] == [(8, "SchemaViolation")]
    assert "event_type" in bad[0].message


def test_product_catalog_jsonl_with_a_truncated_line() -> None:
    good, bad = split(SAMPLES / "products.jsonl", "products")
    assert len(good) == 4
    assert [(b.line, b.error_class) for b in bad] == [(5, "InvalidJSON")]


def test_product_catalog_csv_splits_tags_and_refuses_a_price_that_is_not_a_number() -> None:
    good, bad = split(SAMPLES / "products.csv", "products")
    assert len(good) == 3
    first = good[0]
    assert isinstance(first, Product)
    assert first.tags == ("running", "cushioned", "running shoes", "marathon footwear")
    assert "," in first.description  # a quoted cell keeps its commas
    assert [(b.line, b.error_class) for b in bad] == [(4, "InvalidCSV")]
    assert "price" in bad[0].message


def test_line_numbers_count_blank_lines_and_bad_bytes_are_reported(tmp_path: Path) -> None:
    good_line = (SAMPLES / "sensors.jsonl").read_bytes().splitlines()[0]
    path = tmp_path / "dump.jsonl"
    path.write_bytes(b"\n" + good_line + b"\r\n\n\xff\xfe not utf-8\n" + good_line + b"\n")
    good, bad = split(path, "sensors")
    assert len(good) == 2
    assert [(b.line, b.error_class) for b in bad] == [(4, "InvalidJSON")]


@pytest.mark.parametrize(
    ("content", "error_class"),
    [
        ("event_id,user_id\nabc,u1,surplus\n", "InvalidCSV"),
        ("event_id,user_id\nabc\n", "InvalidCSV"),
        ("event_id,quantity\nabc,three\n", "InvalidCSV"),
        ("event_id,user_id\nabc,u1\n", "SchemaViolation"),
    ],
)
def test_csv_rows_that_cannot_be_records(tmp_path: Path, content: str, error_class: str) -> None:
    path = tmp_path / "events.csv"
    path.write_text(content)
    _, bad = split(path, "user-events")
    assert [(b.line, b.error_class) for b in bad] == [(2, error_class)]


def test_csv_cells_are_coerced_laxly() -> None:
    header = ["schema_version", "value", "price", "quantity", "tags", "device", "unit"]
    cells = ["2", " 21.5 ", "3", "1", "a| b ||c", "", "°C"]
    assert csv_record(header, cells) == {
        "schema_version": 2,
        "value": 21.5,
        "price": 3.0,
        "quantity": 1,
        "tags": ["a", "b", "c"],
        "unit": "°C",
    }


@dataclass
class FakePublisher:
    events: list[tuple[str, Event]] = field(default_factory=list)
    raw: list[tuple[str, bytes | None, bytes | None, dict[str, str]]] = field(default_factory=list)
    flushed: int = 0

    def send(self, stream: Stream[Any], event: Event) -> None:
        self.events.append((stream.topic, event))

    def send_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        decoded = {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in headers or []}
        self.raw.append((topic, key, value, decoded))

    def flush(self, timeout: float = 60.0) -> None:
        self.flushed += 1


def test_ingest_publishes_good_lines_and_dead_letters_bad_ones_with_their_origin() -> None:
    publisher = FakePublisher()
    path = SAMPLES / "sensors.jsonl"
    report = ingest(path, "sensors", publisher)
    assert (report.lines, report.sent, len(report.bad)) == (8, 7, 1)
    assert {topic for topic, _ in publisher.events} == {SENSOR_READINGS.topic}
    [(topic, key, value, headers)] = publisher.raw
    assert topic == SENSOR_READINGS.dlq_topic and key is None
    assert value == path.read_bytes().splitlines()[5]
    assert headers[HEADER_TOPIC] == f"file:{path}"
    assert (headers[HEADER_PARTITION], headers[HEADER_OFFSET]) == ("-1", "6")
    assert headers[HEADER_ERROR_CLASS] == "SchemaViolation"
    assert headers[HEADER_ERROR_MESSAGE] and headers[HEADER_SERVICE] == "producer"
    assert publisher.flushed == 1


def test_ingest_of_a_product_csv_sends_to_the_products_dlq() -> None:
    publisher = FakePublisher()
    report = ingest(SAMPLES / "products.csv", "products", publisher)
    assert report.sent == 3
    assert [(t, h[HEADER_OFFSET], h[HEADER_ERROR_CLASS]) for t, _, _, h in publisher.raw] == [
        (PRODUCTS.dlq_topic, "4", "InvalidCSV")
    ]


def test_ingest_under_a_topic_prefix_publishes_and_dead_letters_to_the_namespaced_topics() -> None:
    publisher = FakePublisher()
    path = SAMPLES / "sensors.jsonl"
    ingest(path, "sensors", publisher, topic_prefix="e2e-1.")
    assert {topic for topic, _ in publisher.events} == {f"e2e-1.{SENSOR_READINGS.topic}"}
    [(topic, _, _, headers)] = publisher.raw
    assert topic == f"e2e-1.{SENSOR_READINGS.dlq_topic}"
    assert headers[HEADER_TOPIC] == f"file:{path}"
