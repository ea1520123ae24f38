"""The workload on faust-streaming: count user events per (product_id, event_type) over 1-minute
tumbling windows by event time, exactly-once.

Run inside .cache/bench-faust: ``python faust_app.py worker -l warning``. Configured by env:
BENCH_BOOTSTRAP, BENCH_TOPIC (input), BENCH_APP_ID (consumer group / app id), BENCH_STATS (a file
the app appends ``first <wall time>`` and ``counted <n> <wall time>`` lines to), BENCH_EXPECTED
(the count at which it writes ``done``). The table's changelog, ``<app id>-counts-changelog``, is
what the harness reads the totals back from.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import faust

BOOTSTRAP = os.environ.get("BENCH_BOOTSTRAP", "127.0.0.1:19092")
TOPIC = os.environ["BENCH_TOPIC"]
APP_ID = os.environ["BENCH_APP_ID"]
STATS = os.environ["BENCH_STATS"]
EXPECTED = int(os.environ.get("BENCH_EXPECTED", "0"))

app = faust.App(
    APP_ID,
    broker=f"kafka://{BOOTSTRAP}",
    processing_guarantee="exactly_once",
    store="memory://",  # the table is rebuilt from its changelog on start
    topic_partitions=6,
    topic_replication_factor=1,
    broker_session_timeout=10,
    broker_heartbeat_interval=3,
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    table_cleanup_interval=3600,
    datadir=os.environ.get("BENCH_DATADIR", f"/tmp/{APP_ID}-data"),
)

source = app.topic(TOPIC, key_type=bytes, value_serializer="json")


def event_time(event: faust.EventT) -> str:
    return event.value["event_time"]  # ISO-8601: faust's window wrapper parses it


counts = (
    app.Table("counts", default=int, partitions=6)
    .tumbling(timedelta(minutes=1), expires=timedelta(hours=6))
    .relative_to(event_time)
)

_stats = open(STATS, "a", buffering=1)  # noqa: SIM115
_seen = 0
_counted = 0


def product_key(value: dict) -> str:
    global _seen
    if _seen == 0:
        _stats.write(f"first {time.time():.6f}\n")
    _seen += 1
    return f"{value['product_id'] or '-'}|{value['event_type']}"


@app.agent(source)
async def count(stream: faust.StreamT) -> None:
    global _counted
    # the repartition topic is named after the agent, not the app: make it unique per app id
    by_product = stream.group_by(product_key, name=f"{APP_ID}-by-product")
    async for key, _value in by_product.items():
        if _counted == 0:
            _stats.write(f"first_counted {time.time():.6f}\n")
        counts[key.decode() if isinstance(key, bytes) else key] += 1
        _counted += 1
        if _counted % 1000 == 0:
            _stats.write(f"counted {_counted} {time.time():.6f}\n")
        if _counted == EXPECTED:
            _stats.write(f"done {_counted} {time.time():.6f}\n")


@app.task
async def mark_start() -> None:
    _stats.write(f"started {time.time():.6f}\n")


if __name__ == "__main__":
    app.main()
