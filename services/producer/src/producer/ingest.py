"""File ingestion: JSON-lines sensor dumps and product catalogs, CSV user-event logs.

Each line is validated with the same schemas the consumers use. A bad line is reported with its
file and line number and sent to the stream's DLQ (origin topic ``file:<path>``, partition -1,
offset = line number), never dropped silently.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from polystream_common.dlq import DeadLetter
from polystream_common.kafka import EventProducer
from polystream_common.loop import InvalidRecord, decode_record
from polystream_common.schemas import Event
from polystream_common.topics import PRODUCTS, SENSOR_READINGS, USER_EVENTS, Stream

log = logging.getLogger(__name__)

FILE_KINDS: dict[str, Stream[Any]] = {
    "sensors": SENSOR_READINGS,
    "user-events": USER_EVENTS,
    "products": PRODUCTS,
}
CSV_INTS = {"schema_version", "quantity"}
CSV_FLOATS = {"price"}


@dataclass(frozen=True)
class BadLine:
    path: str
    line: int
    error_class: str
    message: str
    raw: bytes


@dataclass
class IngestReport:
    lines: int = 0
    sent: int = 0
    bad: list[BadLine] = field(default_factory=list)


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    """CSV cells are text: empty cells are absent fields, numeric columns become numbers."""
    record: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None:
            raise ValueError(f"more cells than header columns: {cell!r}")
        cell = (cell or "").strip()
        if not cell:
            continue
        if column in CSV_INTS:
            record[column] = int(cell)
        elif column in CSV_FLOATS:
            record[column] = float(cell)
        else:
            record[column] = cell
    return record


def parse_file(path: Path, kind: str) -> Iterator[tuple[int, bytes, Event | BadLine]]:
    """Yield (line number, raw line, event or BadLine) for every non-empty line of the file."""
    stream = FILE_KINDS[kind]
    with path.open(newline="", encoding="utf-8") as handle:
        if path.suffix == ".csv":
            reader = csv.DictReader(handle)
            for row in reader:
                number = reader.line_num
                raw = ",".join(v or "" for v in row.values() if isinstance(v, str)).encode()
                try:
                    # Through JSON, so the consumers' strict rules apply to CSV too.
                    event = stream.decode(json.dumps(_csv_record(row)).encode())
                except (ValidationError, ValueError) as exc:
                    error = "SchemaViolation" if isinstance(exc, ValidationError) else "InvalidCSV"
                    yield number, raw, BadLine(str(path), number, error, str(exc), raw)
                else:
                    yield number, raw, event
            return
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            raw = text.rstrip("\n").encode()
            try:
                yield number, raw, decode_record(stream, raw)
            except InvalidRecord as exc:
                yield number, raw, BadLine(str(path), number, exc.error_class, exc.message, raw)


def ingest(path: Path, kind: str, producer: EventProducer) -> IngestReport:
    """Publish every valid line of ``path``; send every bad one to the DLQ with its reason."""
    stream, report = FILE_KINDS[kind], IngestReport()
    for _number, _raw, item in parse_file(path, kind):
        report.lines += 1
        if isinstance(item, BadLine):
            report.bad.append(item)
            log.warning("bad line %s:%d: %s", item.path, item.line, item.error_class)
            letter = DeadLetter(
                stream.dlq_topic,
                f"file:{item.path}",
                -1,
                item.line,
                None,
                item.raw,
                item.error_class,
                item.message,
            )
            producer.send_raw(letter.dlq_topic, None, item.raw, headers=letter.headers("producer"))
        else:
            producer.send(stream, item)
            report.sent += 1
    producer.flush()
    return report
