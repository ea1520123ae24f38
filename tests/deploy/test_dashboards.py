"""The Grafana dashboards (deploy/grafana/dashboards/) are well formed and every panel's query
works against the real Prometheus.

Grafana cannot be installed here, so the format is checked with Grafana's own generated model of
it, grafana-foundation-sdk (PyPI), installed into a cached venv under .cache/: every key of every
dashboard must survive a parse and re-encode by the model (a typo or a misplaced key does not),
every value must fit the model's types (enums and literals included), every panel type must be
one the model knows, and every query must parse as a Prometheus query.

Then PromQL: each panel's ``expr`` is sent to the HTTP API of a real Prometheus with
``$__rate_interval`` and the template variables substituted, as Grafana would. The stack's
Prometheus (127.0.0.1:19090) tells whether each one parses; the live proof starts every service
in a namespace of its own under traffic, scraped by a Prometheus of this test's own run from
deploy/local/prometheus.yml.template (with the alert rules), and each query must return data.
"""

from __future__ import annotations

import enum
import importlib
import json
import re
import signal
import subprocess
import sys
import types
import typing
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from string import Template
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
SDK_VERSION = "1769699998!10.1.0"
SDK_VENV = ROOT / ".cache" / "grafana-sdk-venv"
# What Grafana puts in place of its own variables: $__rate_interval is at least four scrape
# intervals (5 s here); 1m also leaves a young series two samples to rate.
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "30m"}


# -- the model --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sdk() -> types.ModuleType:
    """grafana_foundation_sdk, pinned, from a venv of its own (it has no dependencies), with its
    panel and query plugins registered."""
    python = SDK_VENV / "bin" / "python"
    stamp = SDK_VENV / f".installed-{SDK_VERSION}"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(SDK_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"grafana-foundation-sdk=={SDK_VERSION}"],
            check=True,
            timeout=300,
        )
        stamp.touch()
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if site not in sys.path:
        sys.path.append(site)
    module = importlib.import_module("grafana_foundation_sdk")
    importlib.import_module("grafana_foundation_sdk.cog.plugins").register_default_plugins()
    return module


def type_errors(value: Any, hint: Any, path: str) -> list[str]:
    """Where ``value`` does not fit the model's type ``hint``: model classes (recursively, raw
    dicts parsed first), enums, literals, unions, lists and scalars."""
    origin = typing.get_origin(hint)
    if hint is typing.Any or hint is object:
        return []
    if origin in (typing.Union, types.UnionType):
        arms = [type_errors(value, arm, path) for arm in typing.get_args(hint)]
        return [] if any(not errors for errors in arms) else min(arms, key=len)
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        return [] if value in allowed else [f"{path}: {value!r} is not one of {allowed}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        (item,) = typing.get_args(hint) or (typing.Any,)
        return [e for i, v in enumerate(value) for e in type_errors(v, item, f"{path}[{i}]")]
    if origin is dict:
        return [] if isinstance(value, dict) else [f"{path}: expected an object, got {value!r}"]
    if hint is type(None):
        return [] if value is None else [f"{path}: expected null"]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = {m.value for m in hint}
        return [] if value in values else [f"{path}: {value!r} is not one of {sorted(values)}"]
    if hint in (str, bool):
        return [] if type(value) is hint else [f"{path}: expected {hint.__name__}, got {value!r}"]
    if hint in (int, float):
        ok = isinstance(value, (int, float) if hint is float else int) and type(value) is not bool
        return [] if ok else [f"{path}: expected {hint.__name__}, got {value!r}"]
    if isinstance(hint, type) and hasattr(hint, "from_json"):
        if isinstance(value, dict):
            value = hint.from_json(value)
        if not isinstance(value, hint):
            return [f"{path}: expected {hint.__name__}, got {type(value).__name__}"]
        hints = typing.get_type_hints(hint)
        return [
            e
            for name, field_hint in hints.items()
            for e in type_errors(getattr(value, name, None), field_hint, f"{path}.{name}")
        ]
    return []  # a variant interface (cogvariants.Dataquery, ...): checked by its own class


def lost_keys(original: Any, encoded: Any, path: str = "$") -> list[str]:
    """Keys of ``original`` that the model dropped or changed when it re-encoded the JSON."""
    if isinstance(original, dict):
        if not isinstance(encoded, dict):
            return [f"{path}: became {encoded!r}"]
        return [
            e
            for key, value in original.items()
            for e in (
                lost_keys(value, encoded[key], f"{path}.{key}")
                if key in encoded
                else [f"{path}.{key}: not a field of the model"]
            )
        ]
    if isinstance(original, list):
        if not isinstance(encoded, list) or len(encoded) != len(original):
            return [f"{path}: became {encoded!r}"]
        return [e for i, v in enumerate(original) for e in lost_keys(v, encoded[i], f"{path}[{i}]")]
    return [] if original == encoded else [f"{path}: {original!r} became {encoded!r}"]


def panels_of(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def structural_problems(sdk: types.ModuleType, board: dict[str, Any]) -> list[str]:
    """Everything the model (and Grafana's rules it encodes) finds wrong with one dashboard."""
    dashboard_model = importlib.import_module("grafana_foundation_sdk.models.dashboard")
    prometheus_model = importlib.import_module("grafana_foundation_sdk.models.prometheus")
    runtime = importlib.import_module("grafana_foundation_sdk.cog.runtime").Runtime()
    encoder = importlib.import_module("grafana_foundation_sdk.cog.encoder").JSONEncoder
    try:
        parsed = dashboard_model.Dashboard.from_json(board)
        encoded = json.loads(json.dumps(parsed, cls=encoder))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"the model cannot read it: {exc!r}"]
    problems = lost_keys(board, encoded)
    problems += type_errors(parsed, dashboard_model.Dashboard, "$")
    for key in ("uid", "title", "panels"):
        if not board.get(key):
            problems.append(f"$.{key}: missing")
    ids: set[int] = set()
    for panel in panels_of(board):
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("id") in ids:
            problems.append(f"{where}: id used twice")
        ids.add(panel.get("id", -1))
        grid = panel.get("gridPos") or {}
        if not grid or grid.get("x", 0) + grid.get("w", 0) > 24:
            problems.append(f"{where}: gridPos missing or wider than the 24 columns")
        if panel["type"] == "row":
            continue
        if panel["type"] not in runtime.panelcfg_variants:
            problems.append(f"{where}: unknown panel type {panel['type']!r}")
        panel_model = dashboard_model.Panel.from_json(panel)
        if not panel_model.targets:
            problems.append(f"{where}: no query")
        for target in panel_model.targets or []:
            if not isinstance(target, prometheus_model.Dataquery):
                problems.append(f"{where}: a query that is not a Prometheus query: {target!r}")
            elif not target.expr or not target.ref_id:
                problems.append(f"{where}: a query without expr or refId")
    return problems


def test_every_dashboard_fits_grafanas_model(sdk: types.ModuleType) -> None:
    assert {d.name for d in DASHBOARDS} >= {
        "pipeline-overview.json",
        "recommendation-api.json",
        "sensors-and-business.json",
        "lake-and-warehouse.json",
        "shop.json",
    }
    for path in DASHBOARDS:
        assert structural_problems(sdk, json.loads(path.read_text())) == [], path.name


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda b: b["panels"][1].update(gridpos=b["panels"][1].pop("gridPos")), "gridpos"),
        (lambda b: b["panels"][1].update(type="timeseriess"), "unknown panel type"),
        (lambda b: b.update(graphTooltip=7), "graph_tooltip"),
        (lambda b: b["panels"][1]["targets"][0].update(legend="{{topic}}"), "legend"),
        (
            lambda b: [q.pop("datasource") for q in (b["panels"][1], *b["panels"][1]["targets"])],
            "not a Prometheus query",
        ),
        (lambda b: b["panels"][2].update(id=b["panels"][1]["id"]), "id used twice"),
        (lambda b: b.update(refresh=10), "refresh"),
    ],
)
def test_the_model_catches_structural_mistakes(
    sdk: types.ModuleType, break_it: Any, expected: str
) -> None:
    board = json.loads(DASHBOARDS[0].read_text())
    break_it(board)
    problems = structural_problems(sdk, board)
    assert any(expected in p for p in problems), problems


def test_provisioning_names_the_dashboards_datasource() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    [prometheus] = datasources["datasources"]
    assert prometheus["type"] == "prometheus"
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/polystream.yml").read_text())
    assert [p["type"] for p in providers["providers"]] == ["file"]
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        refs = [p["datasource"] for p in panels_of(board) if "datasource" in p]
        refs += [t["datasource"] for p in panels_of(board) for t in p.get("targets", [])]
        refs += [v["datasource"] for v in board["templating"]["list"] if "datasource" in v]
        assert {r["uid"] for r in refs} == {prometheus["uid"]}, path.name
    assert len(uids) == len(DASHBOARDS)


def exported_metrics(*modules: str) -> set[str]:
    """The names of the Prometheus metrics the given modules define, as a scrape shows them."""
    from prometheus_client.metrics import MetricWrapperBase

    names = set()
    for name in modules:
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, MetricWrapperBase):
                names.add(value._name + ("_total" if value._type == "counter" else ""))
    return names


def test_the_new_services_metrics_are_on_a_dashboard() -> None:
    """Every metric lake-writer, the orchestrator's exporter and shop-api's relay export is on a
    panel."""
    metrics = exported_metrics("lake_writer.metrics", "orchestrator.metrics", "shop_api.relay")
    assert len(metrics) >= 12, metrics
    queried = " ".join(promql for _, _, promql in queries())
    missing = {m for m in metrics if m not in queried}
    assert missing == set()


def test_api_panels_name_their_job() -> None:
    """recsys-api and shop-api export the same HTTP and cache metrics: each API's dashboard
    filters its own job (or service), so neither shows the other's traffic."""
    for board, own in (("recommendation-api", "recsys-api"), ("shop", "shop-api")):
        for name, title, promql in queries():
            if name != board:
                continue
            for selector in re.findall(
                r"polystream_(?:http_request_duration_seconds|cache)_\w+(\{[^}]*\})?", promql
            ):
                assert f'"{own}"' in selector, (board, title, promql)


# -- the queries ------------------------------------------------------------------------------


def queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL as Grafana sends it) of every panel and variable."""
    found = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        values = dict(GRAFANA_VARIABLES)
        for var in board["templating"]["list"]:
            values[var["name"]] = var.get("allValue") or ".*"
        for panel in panels_of(board):
            for target in panel.get("targets", []):
                found.append((path.stem, panel["title"], substitute(target["expr"], values)))
    return found


def substitute(expr: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"{name} is not a variable of the dashboard: {expr}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def instant_query(prometheus: str, promql: str) -> dict[str, Any]:
    """The API's answer to an instant query; a query it refuses answers 400 with its error."""
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return dict(json.loads(error.read()))


@pytest.mark.integration
def test_every_panel_query_parses(stack: dict[str, str]) -> None:
    prometheus = f"http://127.0.0.1:{stack['PROMETHEUS_PORT']}"
    found = queries()
    assert len(found) > 30
    refused = {
        (board, title, promql): answer.get("error")
        for board, title, promql in found
        if (answer := instant_query(prometheus, promql))["status"] != "success"
    }
    assert refused == {}


@pytest.mark.integration
def test_prometheus_refuses_a_broken_query(stack: dict[str, str]) -> None:
    prometheus = f"http://127.0.0.1:{stack['PROMETHEUS_PORT']}"
    _, _, promql = queries()[0]
    answer = instant_query(prometheus, promql.replace("(rate(", "(rate((", 1))
    assert answer["status"] == "error"
    assert answer["errorType"] == "bad_data"
    with pytest.raises(KeyError, match="not a variable"):
        substitute('up{job=~"$nope"}', GRAFANA_VARIABLES)


# -- the live proof ---------------------------------------------------------------------------

TEMPLATE = ROOT / "deploy" / "local" / "prometheus.yml.template"
# Every service, by the template's variable of its port: (module, arguments).
SERVICES = {
    "SENSOR_CONSUMER_METRICS_PORT": ("sensor_consumer", ()),
    "EVENT_CONSUMER_METRICS_PORT": ("event_consumer", ()),
    "EMBEDDER_METRICS_PORT": ("embedder", ()),
    "GRAPH_WRITER_METRICS_PORT": ("graph_writer", ()),
    "AGGREGATOR_METRICS_PORT": ("aggregator", ()),
    "PRODUCER_METRICS_PORT": ("producer", ("run", "--rate", "100", "--seed", "7")),
}


def live_prometheus(tmp_path: Path, ports: dict[str, int]) -> tuple[subprocess.Popen[bytes], str]:
    """A Prometheus of the test's own on the stack's template, laid out as `stack.sh up` lays it
    (the config one folder below the root, so its rule_files name deploy/prometheus/rules)."""
    (tmp_path / "deploy").symlink_to(ROOT / "deploy")
    (tmp_path / ".stack").mkdir()
    config = tmp_path / ".stack" / "prometheus.yml"
    config.write_text(Template(TEMPLATE.read_text()).substitute(ports))
    address = f"127.0.0.1:{ports['PROMETHEUS_PORT']}"
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--web.listen-address={address}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        ],
        stdout=(tmp_path / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, f"http://{address}"


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError):
        return 0


def place_order(base: str, product_id: str, quantity: int) -> int:
    """POST /orders for one product (a fresh Idempotency-Key); the status code."""
    body = {
        "customer_id": "user-00001",
        "items": [{"product_id": product_id, "quantity": quantity}],
    }
    request = urllib.request.Request(
        f"{base}/orders",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError):
        return 0


LAKE_STREAMS = ("sensor_readings", "user_events", "chat_messages", "products")


def lake_has_every_stream(lake: Path) -> bool:
    return all(any((lake / f"stream={s}").glob("date=*/*.parquet")) for s in LAKE_STREAMS)


@pytest.mark.e2e
def test_every_panel_returns_data_while_the_stream_flows(
    stack: dict[str, str], model_dir: Path, tmp_path: Path
) -> None:
    from ..e2e.conftest import (
        E2ENamespace,
        ServiceProcess,
        drop_postgres_schema,
        free_port,
        run_producer,
        wait_until,
    )

    ns = E2ENamespace(f"e2e-{uuid.uuid4().hex[:8]}", stack)
    names = {m.group("braced") for m in Template.pattern.finditer(TEMPLATE.read_text())} - {None}
    ports = {name: free_port() for name in names}
    prometheus_process, prometheus = live_prometheus(tmp_path, ports)
    started: list[ServiceProcess] = []

    def start(module: str, env: dict[str, str], *args: str) -> ServiceProcess:
        log = tmp_path / f"{module}{'-' + args[0] if args else ''}.log"
        service = ServiceProcess(module, env, log, args).start()
        started.append(service)
        return service

    # The analytics side: lake-writer into a lake of the test's own, and the orchestrator's
    # freshness exporter over it and over a warehouse file no build has written yet (its marts
    # read 0, "never built": tests/integration/warehouse/test_orchestrator_run.py proves the
    # gauges after a real build, which would take minutes here).
    lake = tmp_path / "lake"
    orchestrator_env = ns.env(
        "orchestrator",
        ports["ORCHESTRATOR_METRICS_PORT"],
        LAKE__URI=str(lake),
        WAREHOUSE_PATH=str(tmp_path / "warehouse" / "polystream.duckdb"),
        METRICS_REFRESH_S="2",
    )
    # shop-api in a PostgreSQL schema of its own (its migrations' versions would collide with
    # the consumers' in the namespace's schema), the namespace's Mongo database, and a Redis
    # key prefix of its own.
    shop_schema = f"{ns.postgres_schema}_shop"
    shop_env = ns.env(
        "shop_api",
        ports["SHOP_CATALOG_METRICS_PORT"],
        PORT=str(ports["SHOP_API_PORT"]),
        RELAY__METRICS_PORT=str(ports["SHOP_RELAY_METRICS_PORT"]),
        POSTGRES_SCHEMA=shop_schema,
        REDIS__URL=f"redis://127.0.0.1:{stack['REDIS_PORT']}/0",
        CACHE__KEY_PREFIX=shop_schema,
    )
    try:
        for port_var, (module, args) in SERVICES.items():
            extra = {
                "aggregator": dict(
                    STATE_DIR=str(tmp_path / "aggregator-state"),
                    ENGAGEMENT__WINDOW_S="2",
                    SENSORS__WINDOW_S="2",
                    WINDOW_GRACE_S="1",
                ),
            }.get(module, {})
            start(module, ns.env(module, ports[port_var], **extra), *args)
        start(
            "lake_writer",
            ns.env("lake_writer", ports["LAKE_WRITER_METRICS_PORT"], LAKE__URI=str(lake)),
        )
        start("orchestrator", orchestrator_env, "serve-metrics")
        shop = start("shop_api", shop_env, "serve")
        start("shop_api", shop_env, "relay")
        start("shop_api", shop_env, "catalog")
        api_port = ports["RECSYS_API_PORT"]
        api = start(
            "recsys_api",
            ns.env(
                "recsys_api",
                PORT=str(api_port),
                REDIS__URL=f"redis://127.0.0.1:{stack['REDIS_PORT']}/0",
                CACHE__KEY_PREFIX=ns.postgres_schema,
                EMBEDDING__MODEL_DIR=str(model_dir),
            ),
        )
        base = f"http://127.0.0.1:{api_port}"
        # 13 processes start at once on a small machine: imports alone take a while.
        wait_until(lambda: get(f"{base}/healthz") == 200, 300, "recsys-api", service=api)
        shop_base = f"http://127.0.0.1:{ports['SHOP_API_PORT']}"
        wait_until(lambda: get(f"{shop_base}/healthz") == 200, 300, "shop-api", service=shop)
        # The catalog consumer has the producer's products: orders can name one.
        product = "prod-00001"
        wait_until(lambda: get(f"{shop_base}/products/{product}/stock") == 200, 120, "the catalog")
        wait_until(lambda: lake_has_every_stream(lake), 120, "every stream in the lake")
        # Poison records, so the DLQ panels show dead letters and not only zeros.
        run_producer(
            ["load", "--count", "300", "--poison-rate", "0.2", "--quiet"],
            tmp_path / "poison.json",
            ns.env("producer"),
        )
        found = queries()
        empty: dict[tuple[str, str], str] = {}

        def every_panel_has_data() -> bool:
            for service in started:
                if not service.alive():
                    pytest.fail(service.exit_report())
            for user in range(1, 11):  # twice each: a miss (the steps run), then a hit
                get(f"{base}/recommendations/user-{user:05d}")
                get(f"{base}/recommendations/user-{user:05d}")
            get(f"{base}/products/search?q=running+shoes")
            # An order, one refused for want of stock (409), and cached reads (a miss, a hit).
            placed = place_order(shop_base, product, 1)
            assert placed in (201, 409), placed  # 409 once the stock is gone
            assert place_order(shop_base, product, 1000) == 409  # the stock starts at 100
            get(f"{shop_base}/products/{product}/stock")
            get(f"{shop_base}/products/{product}/stock")
            get(f"{shop_base}/top-sellers")
            empty.clear()
            for board, title, promql in found:
                answer = instant_query(prometheus, promql)
                if answer["status"] != "success" or not answer["data"]["result"]:
                    empty[(board, title)] = promql
            return not empty

        try:
            wait_until(every_panel_has_data, 240, "data in every panel", every_s=5)
        except pytest.fail.Exception:
            pytest.fail(f"panels without data: {json.dumps(empty, indent=1)}")
        rules = instant_query(prometheus, "count(ALERTS) or vector(0)")
        assert rules["status"] == "success"
        with urllib.request.urlopen(f"{prometheus}/api/v1/rules", timeout=10) as response:
            groups = json.loads(response.read())["data"]["groups"]
        assert {g["name"] for g in groups} == {
            "polystream-targets",
            "polystream-pipeline",
            "polystream-apis",
            "polystream-analytics",
            "polystream-shop",
        }
    finally:
        running = [s.process for s in started if s.alive() and s.process is not None]
        for process in running:  # all at once: each drains and commits
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait(30)
        prometheus_process.terminate()
        prometheus_process.wait(30)
        ns.drop()
        drop_postgres_schema(stack, shop_schema)
