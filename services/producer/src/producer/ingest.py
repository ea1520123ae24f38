"""File ingestion: sensor dumps, user-event logs and product catalogs.

Formats, chosen by the file's suffix:

- ``.csv``: a header line naming the schema's fields, then one record per line (quoted cells
  may hold commas, not line breaks). Cells are text, coerced laxly: an empty cell is an absent
  field, ``schema_version`` and ``quantity`` become integers, ``value`` and ``price`` numbers,
  and ``tags`` splits on ``|``. The record then goes through the consumers' strict JSON schema.
- anything else: JSON lines, one record per line, exactly as on the wire.

Each line is validated with the same schemas the consumers use; the wire format stays JSON. A bad
line is logged and reported with its file and line number, and sent to the stream's DLQ (origin
topic ``file:<path>``, partition -1, offset = line number), never dropped silently.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from polystream_common.codec import InvalidRecord, decode_record
from polystream_common.dlq import DeadLetter
from polystream_common.schemas import Event
from polystream_common.topics import PRODUCTS, SENSOR_READINGS, USER_EVENTS, Stream

log = logging.getLogger(__name__)

FILE_KINDS: dict[str, Stream[Any]] = {
    "sensors": SENSOR_READINGS,
    "user-events": USER_EVENTS,
    "products": PRODUCTS,
}
CSV_INTS = frozenset({"schema_version", "quantity"})
CSV_FLOATS = frozenset({"value", "price"})
CSV_LISTS = frozenset({"tags"})
SERVICE = "producer"


class Publisher(Protocol):
    """What ingestion needs of a producer (``EventProducer`` is the real one)."""

    def send(self, stream: Stream[Any], event: Event) -> None: ...

    def send_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None: ...

    def flush(self, timeout: float = 60.0) -> None: ...


@dataclass(frozen=True)
class BadLine:
    """A line that is not a valid record, and why (``error_class`` as in the DLQ headers)."""

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


def csv_record(header: list[str], cells: list[str]) -> dict[str, Any]:
    """One CSV row as the JSON record it stands for; raises ``ValueError`` if it cannot be one."""
    if len(cells) != len(header):
        raise ValueError(f"{len(cells)} cells for {len(header)} header columns")
    record: dict[str, Any] = {}
    for column, cell in zip(header, cells, strict=True):
        cell = cell.strip()
        if not cell:
            continue
        try:
            if column in CSV_INTS:
                record[column] = int(cell)
            elif column in CSV_FLOATS:
                record[column] = float(cell)
            elif column in CSV_LISTS:
                record[column] = [t.strip() for t in cell.split("|") if t.strip()]
            else:
                record[column] = cell
        except ValueError:
            raise ValueError(f"column {column!r}: {cell!r} is not a number") from None
    return record


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its end) for every line that is not blank."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield number, line


def parse_file(path: Path, kind: str) -> Iterator[Event | BadLine]:
    """Every non-blank line of the file (a CSV header aside) as an event or a :class:`BadLine`."""
    stream, name = FILE_KINDS[kind], str(path)
    lines = _lines(path)
    if path.suffix.lower() != ".csv":
        for number, raw in lines:
            try:
                yield decode_record(stream, raw)
            except InvalidRecord as exc:
                yield BadLine(name, number, exc.error_class, exc.message, raw)
        return
    header: list[str] | None = None
    for number, raw in lines:
        try:
            cells = next(csv.reader([raw.decode("utf-8")]))
        except (UnicodeDecodeError, csv.Error) as exc:
            yield BadLine(name, number, "InvalidCSV", str(exc), raw)
            continue
        if header is None:
            header = [c.strip() for c in cells]
            continue
        try:
            record = csv_record(header, cells)
        except ValueError as exc:
            yield BadLine(name, number, "InvalidCSV", str(exc), raw)
            continue
        # Through JSON, so the consumers' strict rules apply to CSV too.
        try:
            yield decode_record(stream, json.dumps(record).encode())
        except InvalidRecord as exc:
            yield BadLine(name, number, exc.error_class, exc.message, raw)


def ingest(path: Path, kind: str, producer: Publisher, topic_prefix: str = "") -> IngestReport:
    """Publish every valid line of ``path``; send every bad one, as it was, to the DLQ. Topics are
    the stream's under ``topic_prefix`` (``KafkaSettings.topic_prefix``)."""
    stream, report = FILE_KINDS[kind].namespaced(topic_prefix), IngestReport()
    for item in parse_file(path, kind):
        report.lines += 1
        if isinstance(item, BadLine):
            report.bad.append(item)
            log.warning(
                "bad line, sent to the DLQ",
                extra={
                    "file": item.path,
                    "line": item.line,
                    "error_class": item.error_class,
                    "dlq_topic": stream.dlq_topic,
                },
            )
            letter = DeadLetter(
                dlq_topic=stream.dlq_topic,
                topic=f"file:{item.path}",
                partition=-1,
                offset=item.line,
                key=None,
                value=item.raw,
                error_class=item.error_class,
                message=item.message,
            )
            producer.send_raw(letter.dlq_topic, None, item.raw, headers=letter.headers(SERVICE))
        else:
            producer.send(stream, item)
            report.sent += 1
    producer.flush()
    return report
