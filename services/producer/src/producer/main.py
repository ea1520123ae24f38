"""python -m producer: synthetic streams, file ingestion and load tests.

\b
python -m producer run    [--rate 200] [--mix ...] [--seed N]   steady stream until SIGTERM
python -m producer load   --count N | --duration S [--rate 0] [--mix sensors=1,...]
                          [--poison-rate 0.01] [--seed 42] [--json report.json] [--pregenerate]
python -m producer ingest FILE --kind sensors|user-events|products
python -m producer delete-product ID [ID ...]   tombstones on products.catalog

Mix weights name the streams sensors, user-events, chat and products (sensors=1,chat=0.5).
"""

from __future__ import annotations

import json
import logging
import random
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from polystream_common.cli import service_app
from polystream_common.kafka import EventProducer, build_admin
from polystream_common.logs import configure_logging
from polystream_common.metrics import serve_metrics
from polystream_common.topics import PRODUCTS, STREAMS, Stream, ensure_topics
from producer.catalog import publish_deletions
from producer.generators import World
from producer.ingest import FILE_KINDS, ingest
from producer.load import DeliveryStats, LoadRun, parse_mix, run_load, run_steady
from producer.settings import ProducerServiceSettings

log = logging.getLogger(__name__)

FileKind = Literal["sensors", "user-events", "products"]
Seed = Annotated[int | None, typer.Option(help="seed of the generators (default: settings)")]

app = service_app(__doc__ or "")


def _settings() -> ProducerServiceSettings:
    settings = ProducerServiceSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def _mix(text: str) -> dict[str, float]:
    try:
        return parse_mix(text)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _exit(status: int) -> None:
    if status:
        raise typer.Exit(status)


@app.command()
def run(
    rate: Annotated[float | None, typer.Option(help="records/s (default: settings, 200)")] = None,
    mix: Annotated[
        str | None, typer.Option(help="stream weights (default: settings, all four streams)")
    ] = None,
    seed: Seed = None,
) -> None:
    """A steady mix of all four streams until SIGTERM."""
    settings = _settings()
    _exit(_run(settings, _mix(mix or settings.mix), rate, seed))


@app.command()
def load(
    count: Annotated[int | None, typer.Option(help="records to send")] = None,
    duration: Annotated[float | None, typer.Option(help="seconds to send for")] = None,
    rate: Annotated[float, typer.Option(help="records/s; 0 = as fast as possible")] = 0.0,
    mix: Annotated[str, typer.Option(help="stream weights, e.g. sensors=1,chat=0.5")] = "sensors=1",
    poison_rate: Annotated[float, typer.Option(help="share of poison records")] = 0.0,
    seed: Annotated[int, typer.Option(help="seed of the generators")] = 42,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="write the report to this file")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no live progress on stderr")] = False,
    pregenerate: Annotated[
        bool,
        typer.Option(
            "--pregenerate",
            help="with --count: build all records before timing (as Kafka's perf tool does)",
        ),
    ] = False,
) -> None:
    """Load test with a report: --count N or --duration S."""
    if (count is None) == (duration is None):
        raise typer.BadParameter("give exactly one", param_hint="'--count' / '--duration'")
    settings = _settings()
    if (count is not None and count < 0) or not 0 <= poison_rate <= 1:
        typer.echo("error: --count must be >= 0 and --poison-rate within 0..1", err=True)
        raise typer.Exit(2)
    plan = LoadRun(World.build(seed), _mix(mix), seed, poison_rate, settings.kafka.topic_prefix)
    _exit(_load(settings, plan, rate, count, duration, not quiet, pregenerate, json_path))


@app.command("ingest")
def ingest_command(
    file: Annotated[Path, typer.Argument(help="a CSV or JSON Lines file")],
    kind: Annotated[FileKind, typer.Option(help="what the file holds")],
) -> None:
    """Publish a file; bad lines go to the DLQ."""
    _exit(_ingest(_settings(), file, kind))


@app.command("delete-product")
def delete_product(
    ids: Annotated[list[str], typer.Argument(metavar="ID", help="product ids to delete")],
) -> None:
    """Remove products from the catalog: one tombstone per id on products.catalog."""
    settings = _settings()
    stream = PRODUCTS.namespaced(settings.kafka.topic_prefix)
    ensure_topics(build_admin(settings.kafka), _streams(settings))
    producer = EventProducer.build(
        settings.kafka, settings.producer, client_id="producer-delete", service="producer"
    )
    try:
        deleted = publish_deletions(producer, stream, ids)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    print(json.dumps({"topic": stream.topic, "deleted": deleted}))


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m producer``; exits with the command's status."""
    app(args=argv, prog_name="python -m producer")


def _streams(settings: ProducerServiceSettings) -> list[Stream[Any]]:
    """Every stream under the settings' topic prefix (its own namespace of topics)."""
    return [stream.namespaced(settings.kafka.topic_prefix) for stream in STREAMS]


def _ingest(settings: ProducerServiceSettings, path: Path, kind: str) -> int:
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    ensure_topics(build_admin(settings.kafka), _streams(settings))
    producer = EventProducer.build(
        settings.kafka, settings.producer, client_id="producer-ingest", service="producer"
    )
    report = ingest(path, kind, producer, settings.kafka.topic_prefix)
    for bad in report.bad:
        print(f"{bad.path}:{bad.line}: {bad.error_class}: {bad.message[:300]}", file=sys.stderr)
    summary = {"file": str(path), "lines": report.lines, "sent": report.sent}
    dlq_topic = FILE_KINDS[kind].namespaced(settings.kafka.topic_prefix).dlq_topic
    print(json.dumps({**summary, "dlq": len(report.bad), "dlq_topic": dlq_topic}))
    return 0


def _load(
    settings: ProducerServiceSettings,
    run: LoadRun,
    rate: float,
    count: int | None,
    duration: float | None,
    progress: bool,
    pregenerate: bool,
    json_path: Path | None,
) -> int:
    ensure_topics(build_admin(settings.kafka), _streams(settings))

    def producer_for(stats: DeliveryStats) -> EventProducer:
        return EventProducer.build(
            settings.kafka,
            settings.producer,
            client_id="producer-load",
            service=settings.service_name,
            listener=stats,
        )

    report = run_load(
        run,
        producer_for,
        rate=rate,
        count=count,
        duration_s=duration,
        progress=progress,
        pregenerate=pregenerate,
    )
    text = json.dumps(report.as_dict(), indent=2)
    print(text)
    if json_path:
        json_path.write_text(text + "\n")
    return 1 if report.errors else 0


def _run(
    settings: ProducerServiceSettings, mix: dict[str, float], rate: float | None, seed: int | None
) -> int:
    settings.log_effective()
    rate = settings.rate if rate is None else rate
    seed = seed if seed is not None else settings.seed
    if seed is None:  # a fresh seed, logged so the run can be replayed
        seed = random.SystemRandom().getrandbits(32)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ensure_topics(build_admin(settings.kafka), _streams(settings))
    serve_metrics(settings.metrics_host, settings.metrics_port)
    producer = EventProducer.build(
        settings.kafka, settings.producer, client_id="producer-run", service=settings.service_name
    )
    log.info("streaming", extra={"rate": rate, "mix": mix, "seed": seed})
    run = LoadRun(World.build(seed), mix, seed, topic_prefix=settings.kafka.topic_prefix)
    tally = run_steady(run, producer, rate=rate, stop=stop)
    log.info("stopped", extra={"sent": tally.sent, "acked": producer.delivered})
    return 0
