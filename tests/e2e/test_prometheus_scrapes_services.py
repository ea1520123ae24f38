"""What `make run` promises: the local Prometheus scrapes every running service, so write rates,
end-to-end latency and consumer lag are there to query. The services run on their standard
metrics ports (the ones deploy/local/prometheus.yml names), as `make run` starts them."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from .conftest import run_producer, wait_until

pytestmark = pytest.mark.e2e

COUNT = 3_000


def query(prometheus: str, promql: str) -> dict[str, float]:
    """An instant query; the value of each series, keyed by its ``job`` label."""
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    body = json.loads(urllib.request.urlopen(url, timeout=10).read())
    assert body["status"] == "success", body
    return {r["metric"].get("job", ""): float(r["value"][1]) for r in body["data"]["result"]}


def test_prometheus_scrapes_the_consumers_write_rates_latency_and_lag(
    tmp_path: Path, services: Any, stack: dict[str, str]
) -> None:
    prometheus = f"http://127.0.0.1:{stack['PROMETHEUS_PORT']}"
    suffix = uuid.uuid4().hex[:8]
    consumers = {
        "sensor-consumer": services(
            "sensor_consumer",
            {
                "SENSOR_CONSUMER_CONSUMER__GROUP_ID": f"e2e-prom-sensor-{suffix}",
                "SENSOR_CONSUMER_METRICS_PORT": stack["SENSOR_CONSUMER_METRICS_PORT"],
            },
        ),
        "event-consumer": services(
            "event_consumer",
            {
                "EVENT_CONSUMER_CONSUMER__GROUP_ID": f"e2e-prom-events-{suffix}",
                "EVENT_CONSUMER_MONGO__DATABASE": f"e2e_prom_{suffix}",
                "EVENT_CONSUMER_METRICS_PORT": stack["EVENT_CONSUMER_METRICS_PORT"],
            },
        ),
    }
    jobs = set(consumers)
    # Scraped before any record: the write counters are there at 0, so the records produced next
    # show as an increase (a rate), not as series that appear already counted.
    for job, service in consumers.items():
        wait_until(
            lambda job=job: query(prometheus, f'polystream_records_written_total{{job="{job}"}}'),
            90,
            f"Prometheus to scrape {job}'s write counters",
            service=service,
        )
    report = run_producer(
        ["load", "--count", str(COUNT), "--mix", "sensors=1,user-events=1,chat=1", "--quiet"],
        tmp_path / "producer.json",
    )
    assert report["acked"] == COUNT

    for promql in (
        "sum by (job) (rate(polystream_records_written_total[1m]) > 0)",
        "sum by (job) (polystream_end_to_end_latency_seconds_count > 0)",
        "max by (job) (polystream_consumer_lag_records)",
    ):
        wait_until(
            lambda promql=promql: jobs <= set(query(prometheus, promql)),
            90,
            f"both consumers in {promql}",
        )
    for service in consumers.values():
        assert service.terminate() == 0
