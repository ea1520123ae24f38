"""shop-api's order flow over real HTTP (uvicorn in a thread) on the real PostgreSQL, MongoDB
(the wire server) and a Redis of the test's own: no overselling under concurrency, idempotency
keys (also sent concurrently), the outbox rows written with the order, bad input refused with a
4xx, carts and their expiry, cache invalidation, analytics. Each test has its own schema and
database."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from redis import Redis

from polystream_common.schemas import OrderPlaced
from polystream_common.settings import MongoSettings, PostgresSettings, RedisSettings
from polystream_common.topics import ORDER_PLACED, USER_EVENTS
from polystream_web.security import RateLimitSettings
from shop_api.settings import ShopApiSettings
from shop_api.testing import SeedProduct, seed_catalog, serve_in_thread

from .redis_fixtures import PrivateRedis

pytestmark = pytest.mark.integration

API_KEY = f"key-{uuid.uuid4().hex}"


@pytest.fixture
async def pg(postgres_dsn: str, schema: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(postgres_dsn, server_settings={"search_path": f'"{schema}"'})
    yield conn
    await conn.close()


@pytest.fixture
async def mongo_db(mongo_url: str, schema: str) -> AsyncIterator[str]:
    yield schema
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    await client.drop_database(schema)
    await client.close()


@pytest.fixture
def shop_settings(
    settings: PostgresSettings,
    schema: str,
    mongo_url: str,
    mongo_db: str,
    private_redis: PrivateRedis,
) -> ShopApiSettings:
    return ShopApiSettings(
        port=0,
        postgres=settings.model_copy(update={"pool_max_size": 10}),
        postgres_schema=schema,
        mongo=MongoSettings(url=SecretStr(mongo_url), database=mongo_db),
        redis=RedisSettings(url=SecretStr(f"redis://127.0.0.1:{private_redis.port}/0")),
        rate_limit=RateLimitSettings(enabled=False),
        api_key=SecretStr(API_KEY),
    )


@pytest.fixture
def base_url(shop_settings: ShopApiSettings, pg: asyncpg.Connection) -> Iterator[str]:
    with serve_in_thread(shop_settings) as url:
        yield url


async def seed(pg: asyncpg.Connection, schema: str, *products: SeedProduct) -> None:
    await seed_catalog(pg, schema, products)


def order_body(customer: str, **lines: int) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "items": [{"product_id": pid, "quantity": qty} for pid, qty in lines.items()],
    }


async def post_order(
    client: httpx.AsyncClient, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await client.post(
        "/orders", json=body, headers={"Idempotency-Key": key or f"k-{uuid.uuid4()}"}
    )


async def test_50_concurrent_orders_for_10_left_sell_exactly_10(
    base_url: str, pg: asyncpg.Connection, schema: str
) -> None:
    await seed(pg, schema, SeedProduct("hot", stock=10), SeedProduct("cold", stock=1000))
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        responses = await asyncio.gather(
            # half of them also take a second product, locked in the same (sorted) order
            *(
                post_order(client, order_body(f"c{i}", hot=1, **({"cold": 1} if i % 2 else {})))
                for i in range(50)
            )
        )
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 10, 409: 40}, [r.text for r in responses if r.status_code >= 500]
    refusal = next(r for r in responses if r.status_code == 409).json()
    assert "not enough stock" in refusal["detail"] and "hot" in refusal["detail"]
    assert await pg.fetchval("SELECT stock FROM products WHERE product_id = 'hot'") == 0
    placed = [r.json() for r in responses if r.status_code == 201]
    cold_sold = sum(1 for o in placed for i in o["items"] if i["product_id"] == "cold")
    assert await pg.fetchval("SELECT stock FROM products WHERE product_id = 'cold'") == (
        1000 - cold_sold
    )
    assert await pg.fetchval("SELECT count(*) FROM orders") == 10
    assert await pg.fetchval("SELECT sum(quantity) FROM order_items WHERE product_id='hot'") == 10
    # one order.placed and one purchase per line in the outbox, for committed orders only
    outbox = await pg.fetch("SELECT topic, key, payload FROM outbox ORDER BY id")
    events = [
        OrderPlaced.model_validate_json(r["payload"])
        for r in outbox
        if r["topic"] == ORDER_PLACED.topic
    ]
    assert sorted(str(e.order_id) for e in events) == sorted(o["order_id"] for o in placed)
    purchases = [r for r in outbox if r["topic"] == USER_EVENTS.topic]
    assert len(purchases) == 10 + cold_sold


async def test_the_same_key_sent_5_times_concurrently_places_one_order(
    base_url: str, pg: asyncpg.Connection, schema: str
) -> None:
    await seed(pg, schema, SeedProduct("p1", stock=3, price=Decimal("2.50")))
    key = f"key-{uuid.uuid4()}"
    body = order_body("alice", p1=1)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        responses = await asyncio.gather(*(post_order(client, body, key) for _ in range(5)))
        later = await post_order(client, body, key)
    codes = sorted(r.status_code for r in [*responses, later])
    assert codes == [200, 200, 200, 200, 200, 201]
    assert len({r.json()["order_id"] for r in [*responses, later]}) == 1
    assert all(
        r.headers.get("Idempotent-Replayed") == "true"
        for r in [*responses, later]
        if r.status_code == 200
    )
    assert later.json()["total"] == "2.50"
    assert await pg.fetchval("SELECT count(*) FROM orders") == 1
    assert await pg.fetchval("SELECT stock FROM products") == 2  # charged once
    assert (
        await pg.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", ORDER_PLACED.topic) == 1
    )


async def test_the_same_key_for_the_last_unit_replays_instead_of_409(
    base_url: str, pg: asyncpg.Connection, schema: str
) -> None:
    """The retries wait for the first request's commit and find its order: they do not see
    the stock it took and answer 409."""
    await seed(pg, schema, SeedProduct("last", stock=1))
    key = f"key-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        responses = await asyncio.gather(
            *(post_order(client, order_body("bob", last=1), key) for _ in range(5))
        )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    assert await pg.fetchval("SELECT stock FROM products") == 0


async def test_a_key_reused_for_another_request_is_refused(
    base_url: str, pg: asyncpg.Connection, schema: str
) -> None:
    await seed(pg, schema, SeedProduct("p1", stock=5))
    key = f"key-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        first = await post_order(client, order_body("carol", p1=1), key)
        other = await post_order(client, order_body("carol", p1=2), key)
    assert first.status_code == 201
    assert other.status_code == 422
    assert "Idempotency-Key" in other.text
    assert await pg.fetchval("SELECT stock FROM products") == 4


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (order_body("dave", nope=1), None),
        (order_body("dave", p1=1, nope=2), None),
        (order_body("dave", p1=0), None),
        (order_body("dave", p1=-3), None),
        (order_body("dave", p1=100000), None),
        ({"customer_id": "dave", "items": []}, None),
        ({"customer_id": "dave", "items": [{"product_id": "p1"}]}, None),
        ({"customer_id": "", "items": [{"product_id": "p1", "quantity": 1}]}, None),
        ({"customer_id": "dave", "items": [{"product_id": "a.b", "quantity": 1}]}, None),
        ({"items": [{"product_id": "p1", "quantity": 1}]}, None),
        ({"customer_id": "dave"}, None),  # an empty cart
        (order_body("dave", p1=1), {}),  # no Idempotency-Key
        (order_body("dave", p1=1), {"Idempotency-Key": "short"}),
        ("{not json", None),
        ([1, 2, 3], None),
    ],
)
async def test_bad_orders_get_a_4xx_and_change_nothing(
    base_url: str, pg: asyncpg.Connection, schema: str, body: Any, headers: Any
) -> None:
    await seed(pg, schema, SeedProduct("p1", stock=5))
    sent_headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"} if headers is None else headers
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        if isinstance(body, str):
            response = await client.post(
                "/orders",
                content=body,
                headers={**sent_headers, "Content-Type": "application/json"},
            )
        else:
            response = await client.post("/orders", json=body, headers=sent_headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.status_code == 422
    assert await pg.fetchval("SELECT stock FROM products") == 5
    assert await pg.fetchval("SELECT count(*) FROM orders") == 0
    assert await pg.fetchval("SELECT count(*) FROM outbox") == 0


async def test_cart_add_change_remove_view_and_order_from_it(
    base_url: str, pg: asyncpg.Connection, schema: str
) -> None:
    await seed(
        pg, schema, SeedProduct("a", stock=5, price=Decimal("1.25")), SeedProduct("b", stock=5)
    )
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        assert (await client.get("/carts/erin")).json()["items"] == []
        await client.post("/carts/erin/items", json={"product_id": "a", "quantity": 2})
        await client.post("/carts/erin/items", json={"product_id": "a", "quantity": 1})
        await client.post("/carts/erin/items", json={"product_id": "b"})
        unknown = await client.post("/carts/erin/items", json={"product_id": "zz"})
        assert unknown.status_code == 422
        zero = await client.put("/carts/erin/items/b", json={"quantity": 0})
        assert zero.status_code == 422
        changed = await client.put("/carts/erin/items/b", json={"quantity": 4})
        assert changed.json()["items"] == [
            {"product_id": "a", "quantity": 3},
            {"product_id": "b", "quantity": 4},
        ]
        removed = await client.delete("/carts/erin/items/b")
        assert removed.json()["items"] == [{"product_id": "a", "quantity": 3}]
        key = f"k-{uuid.uuid4()}"
        placed = await post_order(client, {"customer_id": "erin"}, key)
        assert placed.status_code == 201, placed.text
        assert placed.json()["total"] == "3.75"
        assert (await client.get("/carts/erin")).json()["items"] == []  # cleared on commit
        retry = await post_order(client, {"customer_id": "erin"}, key)  # the cart is empty now
        assert retry.status_code == 200
        assert retry.json()["order_id"] == placed.json()["order_id"]
        history = (await client.get("/customers/erin/orders")).json()
        assert [o["order_id"] for o in history] == [placed.json()["order_id"]]
        fetched = await client.get(f"/orders/{placed.json()['order_id']}")
        assert fetched.json()["items"] == [{"product_id": "a", "quantity": 3, "unit_price": "1.25"}]
        assert (await client.get(f"/orders/{uuid.uuid4()}")).status_code == 404
    assert await pg.fetchval("SELECT stock FROM products WHERE product_id = 'a'") == 2


async def test_a_cart_past_its_expiry_reads_empty_and_the_ttl_index_exists(
    base_url: str, pg: asyncpg.Connection, schema: str, mongo_url: str, mongo_db: str
) -> None:
    """The wire server keeps the TTL index (and its expireAfterSeconds) but never deletes: the
    service enforces expiry on read and on write."""
    await seed(pg, schema, SeedProduct("a", stock=5))
    client_db: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    carts = client_db[mongo_db]["carts"]
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            await client.post("/carts/fred/items", json={"product_id": "a", "quantity": 2})
            indexes = {ix["name"]: ix async for ix in await carts.list_indexes()}
            assert indexes["carts_ttl"]["expireAfterSeconds"] == 0
            past = datetime.now(UTC) - timedelta(seconds=1)
            await carts.update_one({"_id": "fred"}, {"$set": {"expires_at": past}})
            assert (await client.get("/carts/fred")).json()["items"] == []
            assert await carts.count_documents({"_id": "fred"}) == 0
            await carts.insert_one({"_id": "fred", "items": {"a": 9}, "expires_at": past})
            again = await client.post("/carts/fred/items", json={"product_id": "a"})
            assert again.json()["items"] == [{"product_id": "a", "quantity": 1}]
    finally:
        await client_db.close()


async def test_an_order_drops_the_cached_stock_and_best_sellers(
    base_url: str, pg: asyncpg.Connection, schema: str, private_redis: PrivateRedis
) -> None:
    await seed(pg, schema, SeedProduct("a", stock=7), SeedProduct("b", stock=7))
    redis = Redis(port=private_redis.port)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        assert (await client.get("/products/a/stock")).json() == {"product_id": "a", "stock": 7}
        assert (await client.get("/top-sellers")).json() == []
        assert redis.exists("shop:stock:a") and redis.exists("shop:top_sellers:all")
        await pg.execute("UPDATE products SET stock = 6 WHERE product_id = 'a'")  # behind it
        assert (await client.get("/products/a/stock")).json()["stock"] == 7  # served cached
        placed = await post_order(client, order_body("gina", a=2))
        assert placed.status_code == 201
        # invalidated at commit, before the response: gone now, not after a TTL
        assert not redis.exists("shop:stock:a") and not redis.exists("shop:top_sellers:all")
        assert (await client.get("/products/a/stock")).json()["stock"] == 4
        top = (await client.get("/top-sellers")).json()
        assert [(t["product_id"], t["units"]) for t in top] == [("a", 2)]
        assert (await client.get("/products/zz/stock")).status_code == 404
    redis.close()


async def test_orders_go_through_when_redis_is_down(
    base_url: str, pg: asyncpg.Connection, schema: str, private_redis: PrivateRedis
) -> None:
    await seed(pg, schema, SeedProduct("a", stock=3))
    private_redis.kill()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        assert (await client.get("/products/a/stock")).json()["stock"] == 3
        assert (await post_order(client, order_body("hal", a=1))).status_code == 201
        assert (await client.get("/products/a/stock")).json()["stock"] == 2


async def test_products_by_attributes(base_url: str, pg: asyncpg.Connection, schema: str) -> None:
    await seed(
        pg,
        schema,
        SeedProduct("r1", stock=1, category="toys", tags=("red", "soft")),
        SeedProduct("r2", stock=1, category="books", tags=("red",)),
        SeedProduct("b1", stock=1, category="toys", tags=("blue",)),
    )
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        red = await client.get("/products", params={"attributes": '{"tags": ["red"]}'})
        assert [p["product_id"] for p in red.json()] == ["r1", "r2"]
        toys = await client.get(
            "/products", params={"attributes": '{"category": "toys", "tags": ["red"]}'}
        )
        assert [p["product_id"] for p in toys.json()] == ["r1"]
        assert (await client.get("/products", params={"attributes": "[1]"})).status_code == 422
        assert (await client.get("/products", params={"attributes": "{x"})).status_code == 422


async def test_revenue_and_lifetime_value_analytics(
    base_url: str, pg: asyncpg.Connection, schema: str
) -> None:
    await seed(
        pg,
        schema,
        SeedProduct("t1", stock=100, price=Decimal("10.00"), category="toys"),
        SeedProduct("k1", stock=100, price=Decimal("4.00"), category="books"),
    )
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for body in (
            order_body("ann", t1=2),  # 20
            order_body("ann", k1=1),  # 4
            order_body("ben", t1=1, k1=5),  # 10 + 20
        ):
            assert (await post_order(client, body)).status_code == 201
        # two of them yesterday, to exercise the running totals over days
        await pg.execute(
            "UPDATE orders SET placed_at = placed_at - interval '1 day' WHERE customer_id = 'ann'"
        )
        assert (await client.get("/analytics/revenue")).status_code == 401
        headers = {"X-API-Key": API_KEY}
        rows = (await client.get("/analytics/revenue", headers=headers)).json()
        clv = (await client.get("/analytics/customer-lifetime-value", headers=headers)).json()
    table = {
        (r["category"], r["revenue"], r["running_revenue"], r["rank_in_category"]) for r in rows
    }
    assert table == {
        ("toys", "20.00", "20.00", 1),  # yesterday: ann's 2 x 10
        ("books", "4.00", "4.00", 2),
        ("toys", "10.00", "30.00", 2),  # today: ben's 1 x 10
        ("books", "20.00", "24.00", 1),
    }
    assert [(c["customer_id"], c["orders"], c["lifetime_value"], c["rank"]) for c in clv] == [
        ("ben", 1, "30.00", 1),
        ("ann", 2, "24.00", 2),
    ]
    assert [c["cumulative_share"] for c in clv] == ["0.5556", "1.0000"]
