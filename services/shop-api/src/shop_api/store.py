"""The PostgreSQL side of the shop: the order transaction, the catalog upsert and the reads.

How placing an order keeps its guarantees (:func:`place_order`):

- **One transaction** does all of it: it locks the stock rows, checks and deducts stock, inserts
  the customer (first order), the order, its items and the outbox rows. A rollback leaves none
  of them, so an order that did not commit never publishes (the relay only sees committed
  outbox rows), and one that did always has its outbox rows.
- **No overselling, no deadlock.** ``SELECT ... ORDER BY product_id FOR UPDATE`` locks every
  product of the order in one global order, so two orders sharing products queue on the first
  one they share instead of each holding one the other needs. Stock is checked on the locked
  rows and deducted in the same transaction; ``CHECK (stock >= 0)`` is the last line of defence.
- **Idempotency.** The key is ``UNIQUE``. The transaction first takes an advisory lock on the
  key (``pg_advisory_xact_lock(<ns>, hashtext(key))``, released at commit or rollback), then looks
  for an order with that key: a concurrent request with the same key waits for the first one's
  commit and then finds its order (READ COMMITTED: each statement sees what committed before
  it), so it answers with the same order, not with a 409 for the stock the first one took. A
  unique violation on the key (two keys hashing alike, or a key inserted by a path that skipped
  the lock) is caught too: the transaction rolled back, and the committed order is returned.
- The same key with a different request (another customer or other lines) is refused
  (:class:`IdempotencyKeyReused`): the key names one request.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import asyncpg

from polystream_common.migrations import Migrations
from polystream_common.schemas import Product
from polystream_common.settings import PostgresSettings
from polystream_common.topics import ORDER_PLACED, USER_EVENTS, Stream
from shop_api.events import order_placed_event, purchase_events

SHOP_MIGRATIONS: Final = Migrations("shop_api", "sql", lock_id=0x5409_0001)
IDEMPOTENCY_LOCK_NS: Final = 0x5409  # the first int of the two-int advisory lock keyspace


async def open_pool(
    settings: PostgresSettings,
    schema: str,
    *,
    max_size: int,
    connect_timeout_s: float | None = None,
) -> asyncpg.Pool:
    """A pool whose connections work in ``schema``, migrated (under the migrations' advisory
    lock, so replicas may start together); closed again if the migrations fail."""
    pool = await asyncpg.create_pool(
        **settings.connect_kwargs(),
        min_size=1,
        max_size=max_size,
        server_settings={"search_path": f'"{schema}"'},
        **({} if connect_timeout_s is None else {"timeout": connect_timeout_s}),
    )
    try:
        async with pool.acquire() as conn:
            await SHOP_MIGRATIONS.apply(conn, schema)
    except BaseException:
        await pool.close()
        raise
    return pool


class OrderRefused(Exception):
    """The order cannot be placed as asked; nothing was written."""


class UnknownProducts(OrderRefused):
    def __init__(self, product_ids: Sequence[str]) -> None:
        super().__init__(f"unknown products: {', '.join(product_ids)}")
        self.product_ids = list(product_ids)


@dataclass(frozen=True, slots=True)
class Shortage:
    product_id: str
    requested: int
    available: int


class InsufficientStock(OrderRefused):
    def __init__(self, shortages: Sequence[Shortage]) -> None:
        text = ", ".join(
            f"{s.product_id} (asked {s.requested}, {s.available} left)" for s in shortages
        )
        super().__init__(f"not enough stock: {text}")
        self.shortages = list(shortages)


class IdempotencyKeyReused(OrderRefused):
    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was used for a different request: use a new key per order"
        )


@dataclass(frozen=True, slots=True)
class OrderItem:
    product_id: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class Order:
    order_id: uuid.UUID
    customer_id: str
    total: Decimal
    placed_at: datetime
    items: tuple[OrderItem, ...]


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order: Order
    replayed: bool
    """True when the key had placed this order before: nothing was charged this time."""


def request_hash(customer_id: str, lines: Mapping[str, int] | None) -> str:
    """What an idempotency key is bound to: the customer and the lines asked for (or "from the
    cart": the cart is cleared once ordered, so its content cannot be compared on a retry)."""
    body = {"customer_id": customer_id, "lines": sorted(lines.items()) if lines else "cart"}
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


async def place_order(
    pool: asyncpg.Pool,
    *,
    idempotency_key: str,
    customer_id: str,
    lines: Mapping[str, int],
    fingerprint: str,
) -> PlacedOrder:
    """Place the order of ``lines`` (product id -> quantity, each >= 1) for ``customer_id``, once
    per ``idempotency_key``; see the module docstring. Raises :class:`UnknownProducts`,
    :class:`InsufficientStock` or :class:`IdempotencyKeyReused` (nothing written)."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                IDEMPOTENCY_LOCK_NS,
                idempotency_key,
            )
            existing = await _order_by_key(conn, idempotency_key)
            if existing is not None:
                return _replay(existing, fingerprint)
            return PlacedOrder(
                await _insert_order(conn, idempotency_key, customer_id, lines, fingerprint),
                replayed=False,
            )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "orders_idempotency_key":
            raise
    async with pool.acquire() as conn:
        existing = await _order_by_key(conn, idempotency_key)
    assert existing is not None, "unique violation on a key that has no order"
    return _replay(existing, fingerprint)


async def find_by_key(
    pool: asyncpg.Pool, idempotency_key: str, fingerprint: str
) -> PlacedOrder | None:
    """The order this key placed before (a replay), or None."""
    async with pool.acquire() as conn:
        found = await _order_by_key(conn, idempotency_key)
    return None if found is None else _replay(found, fingerprint)


def _replay(found: tuple[Order, str], fingerprint: str) -> PlacedOrder:
    order, stored = found
    if stored != fingerprint:
        raise IdempotencyKeyReused
    return PlacedOrder(order, replayed=True)


async def _insert_order(
    conn: asyncpg.Connection,
    idempotency_key: str,
    customer_id: str,
    lines: Mapping[str, int],
    fingerprint: str,
) -> Order:
    product_ids = sorted(lines)
    # now() is the transaction's start: the order's time, read with the locks (no extra trip)
    rows = await conn.fetch(
        "SELECT product_id, price, stock, now() AS placed_at FROM products"
        " WHERE product_id = ANY($1::text[]) AND active"
        " ORDER BY product_id FOR UPDATE",
        product_ids,
    )
    found = {row["product_id"]: row for row in rows}
    unknown = [pid for pid in product_ids if pid not in found]
    if unknown:
        raise UnknownProducts(unknown)
    shortages = [
        Shortage(pid, lines[pid], found[pid]["stock"])
        for pid in product_ids
        if found[pid]["stock"] < lines[pid]
    ]
    if shortages:
        raise InsufficientStock(shortages)
    placed_at: datetime = rows[0]["placed_at"]
    quantities = [lines[pid] for pid in product_ids]
    prices: list[Decimal] = [found[pid]["price"] for pid in product_ids]
    total = sum((price * qty for price, qty in zip(prices, quantities, strict=True)), Decimal(0))
    order_id = uuid.uuid4()
    order_lines = list(zip(product_ids, quantities, prices, strict=True))
    outbox: list[tuple[str, bytes, bytes]] = [
        (
            ORDER_PLACED.topic,
            str(order_id).encode(),
            Stream.encode(order_placed_event(order_id, customer_id, placed_at, total, order_lines)),
        )
    ]
    outbox += [
        (USER_EVENTS.topic, customer_id.encode(), Stream.encode(event))
        for event in purchase_events(order_id, customer_id, placed_at, order_lines)
    ]
    topics, keys, payloads = (list(column) for column in zip(*outbox, strict=True))
    # Every write in one statement (one round trip instead of five). The foreign keys
    # (order -> customer, item -> order) are checked at the end of the statement, when all the
    # CTEs have run.
    await conn.execute(
        "WITH stock AS ("
        "  UPDATE products AS p SET stock = p.stock - l.quantity, updated_at = now()"
        "  FROM unnest($1::text[], $2::int[]) AS l(product_id, quantity)"
        "  WHERE p.product_id = l.product_id"
        "), customer AS ("
        "  INSERT INTO customers (customer_id, first_order_at) VALUES ($3, now())"
        "  ON CONFLICT (customer_id) DO UPDATE"
        "  SET first_order_at = coalesce(customers.first_order_at, EXCLUDED.first_order_at)"
        "), placed AS ("
        "  INSERT INTO orders (order_id, idempotency_key, request_hash, customer_id, total,"
        "  placed_at) VALUES ($4, $5, $6, $3, $7, now())"
        "), items AS ("
        "  INSERT INTO order_items (order_id, product_id, quantity, unit_price)"
        "  SELECT $4, * FROM unnest($1::text[], $2::int[], $8::numeric[])"
        ")"
        " INSERT INTO outbox (topic, key, payload)"
        " SELECT * FROM unnest($9::text[], $10::bytea[], $11::bytea[])",
        product_ids,
        quantities,
        customer_id,
        order_id,
        idempotency_key,
        fingerprint,
        total,
        prices,
        topics,
        keys,
        payloads,
    )
    items = tuple(OrderItem(pid, qty, price) for pid, qty, price in order_lines)
    return Order(order_id, customer_id, total, placed_at, items)


async def _order_by_key(conn: asyncpg.Connection, key: str) -> tuple[Order, str] | None:
    row = await conn.fetchrow(
        "SELECT order_id, request_hash FROM orders WHERE idempotency_key = $1", key
    )
    if row is None:
        return None
    order = await order_by_id(conn, row["order_id"])
    assert order is not None
    return order, row["request_hash"]


async def order_by_id(conn: asyncpg.Connection | asyncpg.Pool, order_id: uuid.UUID) -> Order | None:
    rows = await conn.fetch(
        "SELECT o.order_id, o.customer_id, o.total, o.placed_at,"
        " i.product_id, i.quantity, i.unit_price"
        " FROM orders o JOIN order_items i USING (order_id)"
        " WHERE o.order_id = $1 ORDER BY i.product_id",
        order_id,
    )
    if not rows:
        return None
    first = rows[0]
    items = tuple(OrderItem(r["product_id"], r["quantity"], r["unit_price"]) for r in rows)
    return Order(first["order_id"], first["customer_id"], first["total"], first["placed_at"], items)


ORDER_HISTORY_SQL: Final = (
    "SELECT order_id, total, placed_at FROM orders"
    " WHERE customer_id = $1 ORDER BY placed_at DESC LIMIT $2"
)
"""A customer's orders, newest first: served by ``orders_customer_placed`` (B-tree)."""

ATTRIBUTE_SEARCH_SQL: Final = (
    "SELECT product_id, name, category, price, stock, attributes FROM products"
    " WHERE attributes @> $1::jsonb AND active ORDER BY price, product_id LIMIT $2"
)
"""Products whose attributes contain the given JSON, cheapest first: served by
``products_attributes_gin``. Not ordered by ``product_id``: the planner would then walk the
primary key and filter each row (a LIMIT stops it early when matches are common), which is a
full scan for a rare attribute."""


async def order_history(pool: asyncpg.Pool, customer_id: str, limit: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(ORDER_HISTORY_SQL, customer_id, limit)]


async def products_with_attributes(
    pool: asyncpg.Pool, attributes: Mapping[str, Any], limit: int
) -> list[dict[str, Any]]:
    rows = await pool.fetch(ATTRIBUTE_SEARCH_SQL, json.dumps(attributes), limit)
    return [{**dict(r), "attributes": json.loads(r["attributes"])} for r in rows]


async def product_stock(pool: asyncpg.Pool, product_id: str) -> int | None:
    stock: int | None = await pool.fetchval(
        "SELECT stock FROM products WHERE product_id = $1 AND active", product_id
    )
    return stock


async def existing_products(pool: asyncpg.Pool, product_ids: Sequence[str]) -> set[str]:
    rows = await pool.fetch(
        "SELECT product_id FROM products WHERE product_id = ANY($1::text[]) AND active",
        list(product_ids),
    )
    return {r["product_id"] for r in rows}


TOP_SELLERS_COMPUTED: Final = 50
"""How many best sellers one cached value holds; a request for fewer slices it."""


async def top_sellers(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """The :data:`TOP_SELLERS_COMPUTED` products sold most (units), all time."""
    rows = await pool.fetch(
        "WITH sold AS ("
        "  SELECT product_id, sum(quantity) AS units, sum(quantity * unit_price) AS revenue"
        "  FROM order_items GROUP BY product_id"
        ")"
        " SELECT s.product_id, p.name, p.category, s.units, s.revenue"
        " FROM sold s LEFT JOIN products p USING (product_id)"
        " ORDER BY s.units DESC, s.product_id LIMIT $1",
        TOP_SELLERS_COMPUTED,
    )
    return [
        {
            "product_id": r["product_id"],
            "name": r["name"],
            "category": r["category"],
            "units": int(r["units"]),
            "revenue": float(r["revenue"]),
        }
        for r in rows
    ]


def catalog_attributes(product: Product) -> dict[str, Any]:
    """What the JSONB ``attributes`` column holds for a catalog record."""
    return {"category": product.category, "tags": list(product.tags)}


async def upsert_products(
    conn: asyncpg.Connection | asyncpg.Pool, products: Sequence[Product], initial_stock: int
) -> None:
    """Insert or update catalog records, idempotently. Stock is set only on insert
    (``initial_stock``): an update never touches it, so a catalog re-sent or re-read never
    undoes a sale. A record older than the row (``event_time``) does not overwrite it."""
    await conn.execute(
        "INSERT INTO products (product_id, name, description, category, price, stock,"
        " attributes, active, catalog_event_time)"
        " SELECT p.product_id, p.name, p.description, p.category, p.price, $7, p.attributes,"
        " true, p.event_time"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[],"
        " $6::jsonb[], $8::timestamptz[])"
        " AS p(product_id, name, description, category, price, attributes, event_time)"
        " ON CONFLICT (product_id) DO UPDATE SET name = EXCLUDED.name,"
        " description = EXCLUDED.description, category = EXCLUDED.category,"
        " price = EXCLUDED.price, attributes = EXCLUDED.attributes, active = true,"
        " catalog_event_time = EXCLUDED.catalog_event_time, updated_at = now()"
        " WHERE products.catalog_event_time <= EXCLUDED.catalog_event_time",
        [p.product_id for p in products],
        [p.name for p in products],
        [p.description for p in products],
        [p.category for p in products],
        [Decimal(str(p.price)) for p in products],
        [json.dumps(catalog_attributes(p)) for p in products],
        initial_stock,
        [p.event_time for p in products],
    )


async def deactivate_products(conn: asyncpg.Connection | asyncpg.Pool, ids: Sequence[str]) -> None:
    """A catalog tombstone: the product can no longer be ordered; its sales stay."""
    await conn.execute(
        "UPDATE products SET active = false, updated_at = now() WHERE product_id = ANY($1::text[])",
        list(ids),
    )
