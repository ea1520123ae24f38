"""shop-api's catalog in PostgreSQL: the sink the core loop writes products.catalog with
(initial stock once, never overwritten; tombstones deactivate), and the two indexed queries,
whose plans must use their indexes (a GIN index for JSONB ``@>``, a B-tree for the order
history) on a table large enough, and ANALYZEd, for the planner to choose them by cost."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from polystream_common.schemas import Product
from polystream_common.settings import PostgresSettings
from polystream_common.sink import Deletion, SinkRecord
from polystream_common.topics import PRODUCTS
from shop_api.catalog import CatalogSink
from shop_api.store import ATTRIBUTE_SEARCH_SQL, ORDER_HISTORY_SQL, SHOP_MIGRATIONS

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
async def pg(postgres_dsn: str, schema: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(postgres_dsn, server_settings={"search_path": f'"{schema}"'})
    yield conn
    await conn.close()


def product(pid: str, price: float, at: datetime, **extra: Any) -> SinkRecord[Product]:
    value = Product(
        event_id=uuid.uuid4(),
        event_time=at,
        product_id=pid,
        name=extra.get("name", pid),
        description="",
        category=extra.get("category", "toys"),
        price=price,
        tags=extra.get("tags", ()),
    )
    return SinkRecord(value, PRODUCTS.topic, 0, 0, pid.encode())


async def test_catalog_sets_stock_once_and_never_overwrites_it(
    settings: PostgresSettings, schema: str, pg: asyncpg.Connection
) -> None:
    sink = CatalogSink(settings, schema, initial_stock=25)
    await sink.setup()
    try:
        await sink.write([product("p1", 5.0, T0, tags=("red",)), product("p2", 1.0, T0)])
        await pg.execute("UPDATE products SET stock = 3 WHERE product_id = 'p1'")  # sold 22
        await sink.write([product("p1", 6.5, T0 + timedelta(hours=1), name="P one")])
        await sink.write([product("p1", 99.0, T0 - timedelta(hours=1))])  # older: ignored
        await sink.write([product("p1", 6.5, T0 + timedelta(hours=1), name="P one")])  # again
        rows = {
            r["product_id"]: r
            for r in await pg.fetch(
                "SELECT product_id, name, price, stock, attributes, active FROM products"
            )
        }
        assert rows["p1"]["price"] == Decimal("6.50") and rows["p1"]["name"] == "P one"
        assert rows["p1"]["stock"] == 3
        assert rows["p2"]["stock"] == 25
        assert json.loads(rows["p2"]["attributes"]) == {"category": "toys", "tags": []}
        await sink.delete([Deletion(b"p2", PRODUCTS.topic, 0, 9)])
        assert not await pg.fetchval("SELECT active FROM products WHERE product_id = 'p2'")
        await sink.write([product("p2", 1.0, T0 + timedelta(days=1))])  # back in the catalog
        back = await pg.fetchrow("SELECT active, stock FROM products WHERE product_id = 'p2'")
        assert back is not None and back["active"] and back["stock"] == 25
    finally:
        await sink.close()


async def test_migrations_are_applied_once(schema: str, pg: asyncpg.Connection) -> None:
    assert await SHOP_MIGRATIONS.apply(pg, schema) == ["0001_shop"]
    assert await SHOP_MIGRATIONS.apply(pg, schema) == []


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += plan_nodes(child)
    return nodes


async def explain(conn: asyncpg.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    raw = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
    return plan_nodes(json.loads(raw)[0]["Plan"])


async def test_the_attribute_and_order_history_queries_use_their_indexes(
    schema: str, pg: asyncpg.Connection
) -> None:
    """100,000 products over 2,000 tags (about 100 each) and 100,000 orders of 2,000
    customers, then ANALYZE: the planner picks the indexes on cost alone (no
    ``enable_seqscan = off``). With 20,000 products a sequential scan was cheaper by its cost
    model (the GIN scan's start-up cost), so fewer rows would not show the index in use."""
    await SHOP_MIGRATIONS.apply(pg, schema)
    await pg.execute(
        "INSERT INTO products (product_id, name, category, price, stock, attributes,"
        " catalog_event_time)"
        " SELECT 'p' || i, 'product ' || i, 'c' || (i % 20), 1 + i % 50, 10,"
        " jsonb_build_object('category', 'c' || (i % 20), 'tags',"
        "   jsonb_build_array('t' || (i % 2000), 't' || ((i * 7) % 2000))),"
        " now() FROM generate_series(1, 100000) AS i"
    )
    await pg.execute(
        "INSERT INTO customers (customer_id) SELECT 'u' || i FROM generate_series(0, 1999) i"
    )
    await pg.execute(
        "INSERT INTO orders (order_id, idempotency_key, request_hash, customer_id, total,"
        " placed_at)"
        " SELECT gen_random_uuid(), 'k' || i, 'h', 'u' || (i % 2000), i % 100,"
        " now() - i * interval '1 minute' FROM generate_series(1, 100000) AS i"
    )
    await pg.execute("ANALYZE products; ANALYZE orders")

    attribute_plan = await explain(pg, ATTRIBUTE_SEARCH_SQL, json.dumps({"tags": ["t42"]}), 50)
    assert any(n.get("Index Name") == "products_attributes_gin" for n in attribute_plan), [
        n["Node Type"] for n in attribute_plan
    ]
    history_plan = await explain(pg, ORDER_HISTORY_SQL, "u7", 20)
    assert any(n.get("Index Name") == "orders_customer_placed" for n in history_plan), [
        n["Node Type"] for n in history_plan
    ]
    assert not any(n["Node Type"] == "Sort" for n in history_plan)  # the index gives the order
    # and the answers are right
    found = await pg.fetch(ATTRIBUTE_SEARCH_SQL, json.dumps({"tags": ["t42"]}), 500)
    assert len(found) == await pg.fetchval(
        "SELECT count(*) FROM products WHERE attributes -> 'tags' ? 't42'"
    )
    history = await pg.fetch(ORDER_HISTORY_SQL, "u7", 20)
    assert len(history) == 20
    assert [r["placed_at"] for r in history] == sorted(
        (r["placed_at"] for r in history), reverse=True
    )
