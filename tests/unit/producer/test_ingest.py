"""File ingestion: bad lines are reported with file and line number, good ones parsed."""

from __future__ import annotations

from pathlib import Path

from polystream_common.schemas import Event
from producer.ingest import BadLine, parse_file

SAMPLES = Path(__file__).resolve().parents[3] / "services" / "producer" / "samples"


def split(path: Path, kind: str) -> tuple[list[Event], list[BadLine]]:
    items = [item for _, _, item in parse_file(path, kind)]
    return (
        [i for i in items if not isinstance(i, BadLine)],
        [i for i in items if isinstance(i, BadLine)],
    )


def test_jsonl_sensor_dump_reports_the_bad_line_number() -> None:
    good, bad = split(SAMPLES / "sensors.jsonl", "sensors")
    assert len(good) == 7
    assert [(b.line, b.error_class) for b in bad] == [(6, "SchemaViolation")]
    assert bad[0].path.endswith("sensors.jsonl")


def test_csv_user_events_are_coerced_and_an_unknown_event_type_is_refused() -> None:
    good, bad = split(SAMPLES / "user-events.csv", "user-events")
    assert len(good) == 6
    assert [(b.line, b.error_class) for b in bad] == [(8, "SchemaViolation")]
    assert "teleport" in bad[0].message or "event_type" in bad[0].message


def test_product_catalog_with_a_truncated_line(tmp_path: Path) -> None:
    good, bad = split(SAMPLES / "products.jsonl", "products")
    assert len(good) == 4
    assert [(b.line, b.error_class) for b in bad] == [(5, "InvalidJSON")]


def test_csv_row_with_extra_cells_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,user_id\nabc,u1,surplus\n")
    _, bad = split(path, "user-events")
    assert [(b.line, b.error_class) for b in bad] == [(2, "InvalidCSV")]
