"""The workload on Quix Streams: count user events per (product_id, event_type) over 1-minute
tumbling windows by event time, exactly-once.

Run with the workspace venv: ``.venv/bin/python bench/stream_libs/quix_app.py``. Configured by
env: BENCH_BOOTSTRAP, BENCH_TOPIC (input), BENCH_APP_ID (consumer group), BENCH_STATS (a file
the app appends ``first <wall time>`` and ``done <n> <wall time>`` lines to), BENCH_EXPECTED,
BENCH_STATE_DIR. The window store's changelog topic is what the harness reads the totals back
from.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from typing import Any

from quixstreams import Application

BOOTSTRAP = os.environ.get("BENCH_BOOTSTRAP", "127.0.0.1:19092")
TOPIC = os.environ["BENCH_TOPIC"]
APP_ID = os.environ["BENCH_APP_ID"]
STATS = os.environ["BENCH_STATS"]
EXPECTED = int(os.environ.get("BENCH_EXPECTED", "0"))

_stats = open(STATS, "a", buffering=1)  # noqa: SIM115
_seen = 0
_counted = 0


def event_time_ms(value: Any, headers: Any, timestamp: float, timestamp_type: Any) -> int:
    global _seen
    if _seen == 0:
        _stats.write(f"first {time.time():.6f}\n")
    _seen += 1
    return int(datetime.fromisoformat(value["event_time"]).timestamp() * 1000)


def product_key(value: dict[str, Any]) -> str:
    return f"{value['product_id'] or '-'}|{value['event_type']}"


def mark_counted(value: Any) -> None:
    global _counted
    if _counted == 0:
        _stats.write(f"first_counted {time.time():.6f}\n")
    _counted += 1
    if _counted % 1000 == 0:
        _stats.write(f"counted {_counted} {time.time():.6f}\n")
    if _counted == EXPECTED:
        _stats.write(f"done {_counted} {time.time():.6f}\n")


app = Application(
    broker_address=BOOTSTRAP,
    consumer_group=APP_ID,
    processing_guarantee="exactly-once",
    auto_offset_reset="earliest",
    state_dir=os.environ.get("BENCH_STATE_DIR", f"/tmp/{APP_ID}-state"),
    consumer_extra_config={"session.timeout.ms": 10000, "heartbeat.interval.ms": 3000},
    loglevel="WARNING",
)
source = app.topic(TOPIC, value_deserializer="json", timestamp_extractor=event_time_ms)
sdf = app.dataframe(source)
sdf = sdf.group_by(product_key, name="by-product")
sdf = sdf.update(mark_counted)
# Grace of 6 h: no window closes (and is dropped from the store) during the run, so late events
# are never discarded and the totals can be read back from the changelog.
sdf = sdf.tumbling_window(timedelta(minutes=1), grace_ms=timedelta(hours=6), name="counts")
sdf = sdf.count().final()

if __name__ == "__main__":
    app.run()
