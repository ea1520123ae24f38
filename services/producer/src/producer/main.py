"""python -m producer: synthetic streams, file ingestion and load tests.

python -m producer run    [--rate 200] [--mix ...] [--seed N]   steady stream until SIGTERM
python -m producer load   --count N | --duration S [--rate 0] [--mix sensors=1,...]
                          [--poison-rate 0.01] [--seed 42] [--json report.json] [--pregenerate]
python -m producer ingest FILE --kind sensors|user-events|products

Mix weights name the streams sensors, user-events, chat and products (sensors=1,chat=0.5).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from polystream_common.kafka import EventProducer, build_admin
from polystream_common.logs import configure_logging
from polystream_common.metrics import serve_metrics
from polystream_common.topics import STREAMS, Stream, ensure_topics
from producer.generators import World
from producer.ingest import FILE_KINDS, ingest
from producer.load import DeliveryStats, LoadRun, parse_mix, run_load, run_steady
from producer.settings import ProducerServiceSettings

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="a steady mix of all four streams until SIGTERM")
    run.add_argument("--rate", type=float, help="records/s (default: settings, 200)")
    run.add_argument("--mix", help="stream weights (default: settings, all four streams)")
    run.add_argument("--seed", type=int)

    load = commands.add_parser("load", help="load test with a report")
    limit = load.add_mutually_exclusive_group(required=True)
    limit.add_argument("--count", type=int, help="records to send")
    limit.add_argument("--duration", type=float, help="seconds to send for")
    load.add_argument("--rate", type=float, default=0.0, help="records/s; 0 = as fast as possible")
    load.add_argument("--mix", default="sensors=1", help="stream weights, e.g. sensors=1,chat=0.5")
    load.add_argument("--poison-rate", type=float, default=0.0, help="share of poison records")
    load.add_argument("--seed", type=int, default=42)
    load.add_argument("--json", type=Path, help="write the report to this file")
    load.add_argument("--quiet", action="store_true", help="no live progress on stderr")
    load.add_argument(
        "--pregenerate",
        action="store_true",
        help="with --count: build all records before timing (as Kafka's perf tool does)",
    )

    ingest_cmd = commands.add_parser("ingest", help="publish a file; bad lines go to the DLQ")
    ingest_cmd.add_argument("file", type=Path)
    ingest_cmd.add_argument("--kind", choices=sorted(FILE_KINDS), required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m producer``; returns the exit status."""
    args = _parser().parse_args(argv)
    settings = ProducerServiceSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    if args.command == "ingest":
        return _ingest(settings, args.file, args.kind)
    try:
        mix = parse_mix(args.mix or settings.mix)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "load":
        return _load(settings, args, mix)
    return _run(settings, args, mix)


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
    settings: ProducerServiceSettings, args: argparse.Namespace, mix: dict[str, float]
) -> int:
    if (args.count is not None and args.count < 0) or not 0 <= args.poison_rate <= 1:
        print("error: --count must be >= 0 and --poison-rate within 0..1", file=sys.stderr)
        return 2
    ensure_topics(build_admin(settings.kafka), _streams(settings))
    run = LoadRun(
        World.build(args.seed), mix, args.seed, args.poison_rate, settings.kafka.topic_prefix
    )

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


def _run(settings: ProducerServiceSettings, args: argparse.Namespace, mix: dict[str, float]) -> int:
    settings.log_effective()
    rate = settings.rate if args.rate is None else args.rate
    seed = args.seed if args.seed is not None else settings.seed
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
