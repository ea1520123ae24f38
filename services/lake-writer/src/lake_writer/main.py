"""lake-writer: every stream into a Parquet lake, partitioned by stream and event date.

\b
python -m lake_writer [run]    consume every stream into the lake until SIGTERM
python -m lake_writer compact  compact the settled small files of past dates, print a JSON report

Settings come from LAKE_WRITER_* variables; the lake is LAKE_WRITER_LAKE__URI (a path, default
.stack/lake, or s3://bucket/prefix with LAKE_WRITER_LAKE__S3_ENDPOINT and keys).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer

from lake_writer.bootstrap import bootstrap
from lake_writer.settings import LakeWriterSettings
from polystream_common.cli import consumer_app, print_json
from polystream_common.logs import configure_logging
from polystream_common.runtime import consumer_main
from polystream_lake import LAKE_STREAMS, compact, open_lake


def _run() -> None:
    consumer_main(LakeWriterSettings, bootstrap)


app = consumer_app(
    __doc__ or "", _run, run_help="consume every stream into the Parquet lake (the default)"
)


@app.command("compact")
def compact_command(
    before: Annotated[
        str | None, typer.Option(help="compact dates before this one (YYYY-MM-DD)")
    ] = None,
    min_age_s: Annotated[
        float | None, typer.Option(help="only files last written this many seconds ago")
    ] = None,
) -> None:
    """Compact the lake's settled small files, one file per date, topic and version."""
    settings = LakeWriterSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    today = datetime.now(UTC).date()
    cutoff = date.fromisoformat(before) if before else settings.compaction.before(today)
    age = settings.compaction.min_age_s if min_age_s is None else min_age_s
    location = open_lake(settings.lake)
    totals: dict[str, object] = {}
    for stream in LAKE_STREAMS:
        report = compact(location, before=cutoff, min_age=timedelta(seconds=age), streams=[stream])
        totals[stream.name] = asdict(report)
    print_json({"lake": location.uri, "before": cutoff.isoformat(), "streams": totals})


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m lake_writer``: run the consumer (default) or compact the lake.
    Exits with the command's status."""
    app(args=argv, prog_name="python -m lake_writer")
