"""producer: synthetic streams, file ingestion and load tests.

python -m producer run    [--rate 200] [--mix ...]         steady stream until SIGTERM, /metrics
python -m producer load   --count N | --duration S [--rate 0] [--mix sensors=1,...]
                          [--poison-rate 0.01] [--seed 42] [--json report.json]
python -m producer ingest FILE --kind sensors|user-events|products
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from polystream_common.kafka import EventProducer, build_admin
from polystream_common.logs import configure_logging
from polystream_common.metrics import serve_metrics
from polystream_common.topics import STREAMS, ensure_topics
from producer.generators import World
from producer.ingest import FILE_KINDS, ingest
from producer.load import LoadRun, parse_mix, run_load
from producer.settings import ProducerServiceSettings

DEFAULT_MIX = "sensors=4,user-events=4,chat=1,products=0.2"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="a steady mix of all four streams until SIGTERM")
    run.add_argument("--rate", type=float, default=200.0, help="events/s")
    run.add_argument("--mix", default=DEFAULT_MIX)
    run.add_argument("--seed", type=int, default=42)

    load = commands.add_parser("load", help="load test with a report")
    limit = load.add_mutually_exclusive_group(required=True)
    limit.add_argument("--count", type=int)
    limit.add_argument("--duration", type=float, help="seconds")
    load.add_argument("--rate", type=float, default=0.0, help="events/s; 0 = as fast as possible")
    load.add_argument("--mix", default="sensors=1")
    load.add_argument("--poison-rate", type=float, default=0.0)
    load.add_argument("--seed", type=int, default=42)
    load.add_argument("--json", type=Path, help="write the report to this file")
    load.add_argument("--quiet", action="store_true", help="no live progress")
    load.add_argument(
        "--pregenerate",
        action="store_true",
        help="with --count: build all records before timing (as Kafka's perf tool does)",
    )

    ingest_cmd = commands.add_parser("ingest", help="publish a file, bad lines to the DLQ")
    ingest_cmd.add_argument("file", type=Path)
    ingest_cmd.add_argument("--kind", choices=sorted(FILE_KINDS), required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m producer``."""
    args = _parser().parse_args(argv)
    settings = ProducerServiceSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        mix = parse_mix(args.mix) if hasattr(args, "mix") else {}
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ensure_topics(build_admin(settings.kafka), STREAMS)

    if args.command == "ingest":
        producer = EventProducer.build(
            settings.kafka, settings.producer, client_id="producer-ingest", service="producer"
        )
        ingested = ingest(args.file, args.kind, producer)
        for bad in ingested.bad:
            print(f"{bad.path}:{bad.line}: {bad.error_class}: {bad.message[:200]}", file=sys.stderr)
        print(
            json.dumps({"lines": ingested.lines, "sent": ingested.sent, "dlq": len(ingested.bad)})
        )
        return 0

    world = World.build(args.seed)
    load_run = LoadRun(world, mix, args.seed, getattr(args, "poison_rate", 0.0))
    if args.command == "load":
        report = run_load(
            load_run,
            settings.kafka,
            settings.producer,
            rate=args.rate,
            count=args.count,
            duration_s=args.duration,
            progress=not args.quiet,
            pregenerate=args.pregenerate,
        )
        text = json.dumps(report.as_dict(), indent=2)
        print(text)
        if args.json:
            args.json.write_text(text + "\n")
        return 1 if report.errors else 0

    # run: a steady stream until SIGTERM/SIGINT, with /metrics for Prometheus
    serve_metrics(settings.metrics_host, settings.metrics_port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        run_load(
            load_run,
            settings.kafka,
            settings.producer,
            rate=args.rate,
            count=None,
            duration_s=1.0,
            progress=False,
        )
    return 0
