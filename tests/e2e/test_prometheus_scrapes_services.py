"""What `make run` promises: Prometheus, configured from deploy/local/prometheus.yml.template,
scrapes every running service, so write rates, end-to-end latency and consumer lag are there to
query. The test runs a Prometheus of its own on the same template, rendered with ports of its own,
so it neither binds the services' standard ports nor reads the stack's Prometheus."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from string import Template
from typing import Any

import pytest

from .conftest import ROOT, E2ENamespace, free_port, run_producer, wait_until

pytestmark = pytest.mark.e2e

COUNT = 3_000
TEMPLATE = ROOT / "deploy" / "local" / "prometheus.yml.template"
# The services under test, by job name: (module, the template's variable of its port).
CONSUMERS = {
    "sensor-consumer": ("sensor_consumer", "SENSOR_CONSUMER_METRICS_PORT"),
    "event-consumer": ("event_consumer", "EVENT_CONSUMER_METRICS_PORT"),
}


def query(prometheus: str, promql: str) -> dict[str, float]:
    """An instant query; the value of each series, keyed by its ``job`` label."""
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    body = json.loads(urllib.request.urlopen(url, timeout=10).read())
    assert body["status"] == "success", body
    return {r["metric"].get("job", ""): float(r["value"][1]) for r in body["data"]["result"]}


def ready(prometheus: str) -> bool:
    try:
        return bool(urllib.request.urlopen(f"{prometheus}/-/ready", timeout=2).status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


@pytest.fixture
def ports() -> dict[str, int]:
    """A free port for every variable of the template: nothing of a running stack is scraped."""
    names = {m.group("braced") for m in Template.pattern.finditer(TEMPLATE.read_text())}
    return {name: free_port() for name in names - {None}}


@pytest.fixture
def prometheus(tmp_path: Path, ports: dict[str, int]) -> Iterator[str]:
    """A Prometheus of this test's own, with the stack's config on the test's ports."""
    config = tmp_path / "prometheus.yml"
    config.write_text(Template(TEMPLATE.read_text()).substitute(ports))
    address = f"127.0.0.1:{ports['PROMETHEUS_PORT']}"
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--web.listen-address={address}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: ready(f"http://{address}"), 60, "Prometheus to be ready")
        yield f"http://{address}"
    finally:
        process.terminate()
        process.wait(30)


def test_prometheus_scrapes_the_consumers_write_rates_latency_and_lag(
    tmp_path: Path,
    services: Any,
    namespace: E2ENamespace,
    ports: dict[str, int],
    prometheus: str,
) -> None:
    ns = namespace
    consumers = {
        job: services(module, ns.env(module, ports[port_var]))
        for job, (module, port_var) in CONSUMERS.items()
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
        ns.env("producer"),
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
