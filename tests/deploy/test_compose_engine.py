"""The compose stream on a real Docker engine (run by deploy/compose/test-compose.sh, `make
test-compose`, once every container is healthy; conftest.py leaves it out of a plain run): a
known load through `docker-compose run producer python -m producer load`, then exact counts in
PostgreSQL, MongoDB, Milvus, Neo4j and the Parquet lake (read inside lake-writer's container: rows
per stream, each event_id once), computed from the same seeded records; an order placed through
shop-api's published port once its catalog consumer has the product, found in PostgreSQL and, by
the outbox relay, on Kafka's order.placed; then Prometheus inside compose scrapes every service,
the producer's steady `load` profile included. (The analytics and s3 profiles are not run here:
test_compose_offline.py validates them.)"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from neo4j import GraphDatabase
from pymilvus import MilvusClient
from pymongo import MongoClient

from producer.generators import World
from producer.load import LoadRun, parse_mix

ROOT = Path(__file__).resolve().parents[2]
COUNT = 2_000
MIX = "sensors=4,user-events=4,chat=1,products=1"
SEED = 7
JOBS = {"prometheus", "producer", "sensor-consumer", "event-consumer", "embedder",
        "graph-writer", "aggregator", "recsys-api", "lake-writer", "shop-api", "shop-relay",
        "shop-catalog"}  # fmt: skip


def env_file() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (ROOT / "deploy/compose/.env.example").read_text()
             .splitlines() if line and not line.startswith("#"))  # fmt: skip
    return {k: v for k, v in pairs}


ENV = env_file()


def port(name: str) -> int:
    return int(os.environ[f"COMPOSE_TEST_{name}_PORT"])


def compose(*args: str, timeout: float = 300) -> str:
    command = [*shlex.split(os.environ["POLYSTREAM_COMPOSE_CMD"]), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)}: {result.stderr[-3000:]}"
    return result.stdout


def wait_for(
    what: str,
    probe: Callable[[], Any],
    expected: Any,
    timeout_s: float = 180,
    done: Callable[[Any], bool] | None = None,
) -> None:
    """Poll ``probe`` until it returns ``expected`` (or satisfies ``done``), else fail."""
    reached = done or (lambda seen: seen == expected)
    deadline, seen = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        try:
            seen = probe()
        except Exception as exc:  # a store still creating its collection, a connection refused
            seen = f"{type(exc).__name__}: {exc}"
        if not isinstance(seen, str) and reached(seen):
            return
        time.sleep(2)
    pytest.fail(f"{what}: expected {expected!r}, last saw {seen!r}")


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    """What the stores must hold after the load: counted from the same seeded records."""
    run = LoadRun(World.build(SEED), parse_mix(MIX), SEED)
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for n, (topic, _key, value, _poison) in enumerate(run.records()):
        if n == COUNT:
            break
        by_topic.setdefault(topic, []).append(json.loads(value))
    events = by_topic["user.events"]
    campaign = {"campaign_view", "campaign_click"}
    targeted = [
        e for e in events
        if (e.get("campaign_id") if e["event_type"] in campaign else e.get("product_id"))
    ]  # fmt: skip
    return {
        "per_topic": {t: len(v) for t, v in by_topic.items()},
        "sensor_readings": len(by_topic["sensor.readings"]),
        "user_events": len(events),
        "chat_messages": len(by_topic["chat.messages"]),
        "chatting_users": len({c["user_id"] for c in by_topic["chat.messages"]}),
        "products": len({p["product_id"] for p in by_topic["products.catalog"]}),
        "product_records": len(by_topic["products.catalog"]),
        "a_product": by_topic["products.catalog"][0]["product_id"],
        "interactions": len(targeted),
        "users_in_graph": len({e["user_id"] for e in targeted}),
    }


@pytest.fixture(scope="module")
def load_report(expected: dict[str, Any]) -> dict[str, Any]:
    out = compose(
        "run", "--rm", "-T", "producer", "python", "-m", "producer", "load", "--count",
        str(COUNT), "--mix", MIX, "--seed", str(SEED), "--quiet",
    )  # fmt: skip
    lines = out.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    report: dict[str, Any] = json.loads("\n".join(lines[start:]))
    return report


def test_the_load_is_acknowledged(load_report: dict[str, Any], expected: dict[str, Any]) -> None:
    assert load_report["acked"] == COUNT and load_report["errors"] == 0
    assert load_report["per_topic"] == expected["per_topic"]


def test_postgres_holds_every_sensor_reading(load_report: Any, expected: dict[str, Any]) -> None:
    async def count() -> int:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port("POSTGRES"), user=ENV["POSTGRES_USER"],
            password=ENV["POSTGRES_PASSWORD"], database=ENV["POSTGRES_DB"],
        )  # fmt: skip
        try:
            return int(await conn.fetchval("SELECT count(*) FROM sensor_readings"))
        finally:
            await conn.close()

    wait_for("sensor_readings", lambda: asyncio.run(count()), expected["sensor_readings"])


def test_mongo_holds_every_event_message_and_product(
    load_report: Any, expected: dict[str, Any]
) -> None:
    with MongoClient(f"mongodb://127.0.0.1:{port('MONGO')}", serverSelectionTimeoutMS=5000) as m:
        db = m["polystream"]
        for name in ("user_events", "chat_messages", "products"):
            wait_for(f"mongo {name}", lambda n=name: db[n].count_documents({}), expected[name])


def test_milvus_holds_every_product_and_chat_vector(
    load_report: Any, expected: dict[str, Any]
) -> None:
    client = MilvusClient(
        uri=f"http://127.0.0.1:{port('MILVUS')}", token=f"root:{ENV['MILVUS_ROOT_PASSWORD']}"
    )

    def count(collection: str) -> int:
        rows = client.query(
            collection, filter="id > 0", output_fields=["count(*)"], consistency_level="Strong"
        )
        return int(rows[0]["count(*)"])

    try:
        for name in ("products", "chat_messages"):
            wait_for(f"milvus {name}", lambda n=name: count(n), expected[name], timeout_s=300)
        # Profiles are upserted after the chat batch that moves them, so they are waited for
        # too; every user who chatted has one (product events may add more users).
        wait_for(
            "milvus user_profiles",
            lambda: count("user_profiles"),
            f">= {expected['chatting_users']}",
            timeout_s=120,
            done=lambda seen: seen >= expected["chatting_users"],
        )
    finally:
        client.close()


def test_neo4j_holds_every_interaction(load_report: Any, expected: dict[str, Any]) -> None:
    auth = ("neo4j", ENV["NEO4J_PASSWORD"])
    with GraphDatabase.driver(f"bolt://127.0.0.1:{port('NEO4J')}", auth=auth) as driver:

        def scalar(query: str) -> int:
            records, _, _ = driver.execute_query(query)
            return int(records[0][0] or 0)

        wait_for(
            "INTERACTED counts",
            lambda: scalar("MATCH (:User)-[r:INTERACTED]->() RETURN sum(r.count)"),
            expected["interactions"],
        )
        assert scalar("MATCH (u:User) RETURN count(u)") == expected["users_in_graph"]


# Run inside lake-writer's container (its image has pyarrow; the lake is its volume): per stream,
# the rows of every Parquet file (not the .tmp files of a write in flight), the distinct event_ids
# and, for the catalog, the distinct product_ids.
LAKE_COUNT = """
import json, os, pyarrow.parquet as pq
out = {}
for stream in ("sensor_readings", "user_events", "chat_messages", "products"):
    rows, ids, keys = 0, set(), set()
    for folder, _dirs, files in os.walk("/lake/stream=" + stream):
        for name in files:
            if name.startswith(".") or not name.endswith(".parquet"):
                continue
            cols = ["event_id", "product_id"] if stream == "products" else ["event_id"]
            table = pq.ParquetFile(os.path.join(folder, name)).read(columns=cols)
            rows += table.num_rows
            ids.update(table.column("event_id").to_pylist())
            if stream == "products":
                keys.update(table.column("product_id").to_pylist())
    out[stream] = {"rows": rows, "event_ids": len(ids), "keys": len(keys)}
print(json.dumps(out))
"""


def test_the_lake_holds_every_record_once(load_report: Any, expected: dict[str, Any]) -> None:
    def lake() -> dict[str, Any]:
        counts: dict[str, Any] = json.loads(
            compose("exec", "-T", "lake-writer", "python", "-c", LAKE_COUNT, timeout=60)
        )
        return counts

    once = {
        stream: {"rows": expected[stream], "event_ids": expected[stream], "keys": 0}
        for stream in ("sensor_readings", "user_events", "chat_messages")
    }
    # The catalog is a table stream: the loop keeps the latest record of a key within a batch,
    # so the lake holds between one record per product and every record, each once.
    wait_for(
        "the lake's rows per stream",
        lake,
        {**once, "products": f"{expected['products']} products, each record once"},
        done=lambda seen: (
            {k: v for k, v in seen.items() if k != "products"} == once
            and seen["products"]["keys"] == expected["products"]
            and seen["products"]["rows"] == seen["products"]["event_ids"]
            and expected["products"] <= seen["products"]["rows"] <= expected["product_records"]
        ),
    )


def shop(
    method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """shop-api over HTTP from the host, on the port compose publishes."""
    request = urllib.request.Request(
        f"http://{os.environ['SHOP_API_PUBLISH']}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


# Run inside shop-relay's container (Kafka is not published to the host): the order.placed
# records keyed by the order id argv[1], read_committed from the start of the topic.
ORDER_PLACED_READ = """
import json, sys, time
from confluent_kafka import Consumer
order_id = sys.argv[1]
consumer = Consumer({"bootstrap.servers": "kafka:9092", "group.id": "compose-test-" + order_id,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False,
                     "isolation.level": "read_committed"})
consumer.subscribe(["order.placed"])
found, deadline = [], time.monotonic() + 60
while not found and time.monotonic() < deadline:
    for msg in consumer.consume(500, timeout=1.0):
        if msg.error() is None and msg.key() == order_id.encode():
            found.append(json.loads(msg.value()))
consumer.close()
print(json.dumps(found))
"""


def test_an_order_through_shop_api_reaches_postgres_and_kafka(
    load_report: Any, expected: dict[str, Any]
) -> None:
    product = expected["a_product"]
    # The catalog consumer has the product once its stock answers (404 before).
    wait_for(f"shop-api knows {product}", lambda: shop("GET", f"/products/{product}/stock")[0], 200)
    _, before = shop("GET", f"/products/{product}/stock")
    key = f"compose-{uuid.uuid4()}"
    order = {"customer_id": "compose-customer-1", "items": [{"product_id": product, "quantity": 2}]}
    status, placed = shop("POST", "/orders", order, {"Idempotency-Key": key})
    assert status == 201, placed
    order_id = placed["order_id"]
    status, replayed = shop("POST", "/orders", order, {"Idempotency-Key": key})
    assert (status, replayed["order_id"]) == (200, order_id)  # the same key: the same order
    assert shop("GET", f"/products/{product}/stock")[1]["stock"] == before["stock"] - 2
    # Auth is on: the analytics routes want the key of .env.
    assert shop("GET", "/analytics/revenue")[0] == 401
    assert shop("GET", "/analytics/revenue", headers={"X-API-Key": ENV["SHOP_API_KEY"]})[0] == 200

    async def in_postgres() -> tuple[int, int, int]:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port("POSTGRES"), user=ENV["POSTGRES_USER"],
            password=ENV["POSTGRES_PASSWORD"], database=ENV["POSTGRES_DB"],
        )  # fmt: skip
        try:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM shop.orders WHERE order_id = $1) AS orders,"
                " (SELECT sum(quantity) FROM shop.order_items WHERE order_id = $1) AS units,"
                " (SELECT count(*) FROM shop.orders WHERE idempotency_key = $2) AS by_key",
                uuid.UUID(order_id),
                key,
            )
            return int(row["orders"]), int(row["units"]), int(row["by_key"])
        finally:
            await conn.close()

    assert asyncio.run(in_postgres()) == (1, 2, 1)

    out = compose("exec", "-T", "shop-relay", "python", "-c", ORDER_PLACED_READ, order_id)
    records = json.loads(out.strip().splitlines()[-1])
    assert records, f"no order.placed record keyed {order_id} within 60 s"
    # At least once: a copy carries the same order (and event_id).
    assert {r["order_id"] for r in records} == {order_id}
    assert {r["event_id"] for r in records} == {records[0]["event_id"]}
    assert records[0]["customer_id"] == "compose-customer-1"
    assert [(line["product_id"], line["quantity"]) for line in records[0]["lines"]] == [
        (product, 2)
    ]


def targets() -> dict[str, str]:
    url = f"http://{os.environ['PROMETHEUS_PUBLISH']}/api/v1/targets"
    with urllib.request.urlopen(url, timeout=5) as resp:
        active = json.load(resp)["data"]["activeTargets"]
    return {t["labels"]["job"]: t["health"] for t in active}


def test_prometheus_scrapes_every_service(load_report: Any) -> None:
    """Last: the steady producer of the `load` profile adds records once the counts are in."""
    compose("--profile", "load", "up", "-d", "--no-build", "producer")
    wait_for("Prometheus targets", targets, dict.fromkeys(JOBS, "up"), timeout_s=120)
