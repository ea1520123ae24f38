"""shop-api end to end, as processes (``python -m shop_api catalog|serve|relay``) on the real
stack in a namespace of the test's own: the catalog arrives from products.catalog through the
core loop, orders are placed over HTTP, and the outbox relay is SIGKILLed (by its fault setting)
between claiming a round and marking it published, then restarted.

Delivery is at least once, deduplicated by order id: killed after producing, every record of the
round is read twice by a read_committed consumer and once per order id after dedupe; killed
before producing, exactly once. Nothing committed is lost either way."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from confluent_kafka import Producer

from polystream_common.schemas import OrderPlaced, Product, UserEventV2
from polystream_common.topics import ORDER_PLACED, PRODUCTS, USER_EVENTS

from .conftest import (
    E2ENamespace,
    ServiceProcess,
    free_port,
    postgres_kwargs,
    read_all,
    wait_until,
)

PRODUCT_IDS = ["p1", "p2", "p3"]


def publish_catalog(ns: E2ENamespace) -> None:
    producer = Producer({"bootstrap.servers": ns.bootstrap})
    topic = ns.stream(PRODUCTS).topic
    for i, pid in enumerate(PRODUCT_IDS):
        product = Product(
            event_id=uuid.uuid4(),
            event_time=datetime.now(UTC),
            product_id=pid,
            name=f"product {pid}",
            description="",
            category="toys" if i % 2 else "books",
            price=2.0 + i,
            tags=("e2e",),
        )
        producer.produce(topic, key=pid.encode(), value=PRODUCTS.encode(product))
    assert producer.flush(30) == 0


def query(ns: E2ENamespace, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(
            **postgres_kwargs(ns.stack), server_settings={"search_path": ns.postgres_schema}
        )
        try:
            return list(await conn.fetch(sql, *args))
        except asyncpg.UndefinedTableError:
            return []
        finally:
            await conn.close()

    return asyncio.run(run())


def post_order(base: str, customer: str, product_id: str) -> dict[str, Any]:
    body = {"customer_id": customer, "items": [{"product_id": product_id, "quantity": 2}]}
    request = urllib.request.Request(
        f"{base}/orders",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": f"k-{uuid.uuid4()}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return dict(json.loads(response.read()))


def unpublished(ns: E2ENamespace) -> int:
    return int(query(ns, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")[0]["n"])


def run_relay_until_killed(
    ns: E2ENamespace, services: Callable[..., ServiceProcess], fault: str
) -> None:
    relay = services(
        "shop_api", ns.env("shop_api", RELAY__METRICS_PORT="0", RELAY__FAULT=fault), "relay"
    )
    wait_until(lambda: not relay.alive(), 120, f"the relay to kill itself ({fault})")
    assert relay.process is not None and relay.process.returncode == -9, relay.log_tail()


def test_orders_reach_kafka_once_per_order_id_across_relay_kills(
    namespace: E2ENamespace, services: Callable[..., ServiceProcess]
) -> None:
    ns = namespace
    port = free_port()
    catalog = services("shop_api", ns.env("shop_api", INITIAL_STOCK="50"), "catalog")
    publish_catalog(ns)
    wait_until(
        lambda: len(query(ns, "SELECT product_id FROM products")) == 3,
        120,
        "the catalog in PostgreSQL",
        service=catalog,
    )
    api = services(
        "shop_api",
        ns.env("shop_api", PORT=str(port), CACHE__KEY_PREFIX=ns.postgres_schema),
        "serve",
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    wait_until(ready, 120, "shop-api ready", service=api)
    first = [post_order(base, f"c{i}", pid) for i, pid in enumerate(PRODUCT_IDS)]
    assert unpublished(ns) == 6  # one order.placed and one purchase per order

    # 1. killed after producing, before marking: the round is in Kafka, not marked
    run_relay_until_killed(ns, services, "kill_after_produce")
    assert unpublished(ns) == 6
    # 2. a new order; killed before producing: nothing of that round reached Kafka
    late = post_order(base, "late", "p1")
    run_relay_until_killed(ns, services, "kill_before_produce")
    assert unpublished(ns) == 8
    # 3. restarted without a fault: everything is published and marked
    relay = services("shop_api", ns.env("shop_api", RELAY__METRICS_PORT="0"), "relay")
    wait_until(lambda: unpublished(ns) == 0, 120, "the outbox drained", service=relay)

    placed = read_all(ns.bootstrap, ns.stream(ORDER_PLACED).topic, expected=7)
    events = [OrderPlaced.model_validate_json(m.value()) for m in placed]
    copies = Counter(str(e.order_id) for e in events)
    first_ids = {o["order_id"] for o in first}
    assert set(copies) == first_ids | {late["order_id"]}  # nothing lost
    assert {oid: copies[oid] for oid in first_ids} == dict.fromkeys(first_ids, 2)
    assert copies[late["order_id"]] == 1
    assert all(m.key() == str(e.order_id).encode() for m, e in zip(placed, events, strict=True))
    # dedupe by order id: one event per order, with the order's content
    deduped = {str(e.order_id): e for e in events}
    assert len(deduped) == 4
    assert deduped[late["order_id"]].lines[0].quantity == 2
    assert len({e.event_id for e in events}) == 4  # a copy carries the same event id

    purchases = read_all(ns.bootstrap, ns.stream(USER_EVENTS).topic, expected=7)
    decoded = [UserEventV2.model_validate_json(m.value()) for m in purchases]
    assert {e.event_type for e in decoded} == {"purchase"}
    assert len({e.event_id for e in decoded}) == 4  # one purchase per order line
    assert Counter(e.user_id for e in decoded)["late"] == 1
    assert query(ns, "SELECT stock FROM products WHERE product_id = 'p1'")[0]["stock"] == 50 - 4
    relay.terminate()
    api.terminate()
    catalog.terminate()
