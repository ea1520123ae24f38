"""Kafka's own producer perf tool, the ceiling our producer is measured against."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KAFKA_LIB = ROOT / ".cache" / "kafka" / "lib"

# "200000 records sent, 153846.2 records/sec (29.34 MB/sec), 5.1 ms avg latency, ..."
SUMMARY = re.compile(
    r"(?P<sent>\d+) records sent, (?P<rate>[\d.]+) records/sec \((?P<mb>[\d.]+) MB/sec\),"
    r" (?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency"
    r"(?:, (?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th)?"
)


@dataclass(frozen=True)
class PerfResult:
    records: int
    records_per_s: float
    mb_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    command: str


def java_producer_perf(
    bootstrap: str, topic: str, records: int, record_size: int, producer_props: dict[str, str]
) -> PerfResult:
    """Run ``org.apache.kafka.tools.ProducerPerformance`` (kafka-producer-perf-test.sh)."""
    props = [f"{k}={v}" for k, v in {"bootstrap.servers": bootstrap, **producer_props}.items()]
    command = [
        "java",
        "-Xmx512m",
        "-cp",
        f"{KAFKA_LIB}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        "--producer-props",
        *props,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
    matches = list(SUMMARY.finditer(out))  # the last line sums up the run; the rest is progress
    if not matches:
        raise RuntimeError(f"no summary in ProducerPerformance output:\n{out[-2000:]}")
    match = matches[-1]
    return PerfResult(
        records=int(match["sent"]),
        records_per_s=float(match["rate"]),
        mb_per_s=float(match["mb"]),
        p50_ms=float(match["p50"]) if match["p50"] else None,
        p99_ms=float(match["p99"]) if match["p99"] else None,
        command=" ".join(command[:4]) + " " + " ".join(command[4:]),
    )
