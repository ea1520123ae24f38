"""What shop-api's tests and benchmark share: the app served by uvicorn in a thread on a free
port (real HTTP), and a catalog seeded straight into PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from polystream_web import server as web_server
from shop_api.app import create_app
from shop_api.settings import ShopApiSettings
from shop_api.store import SHOP_MIGRATIONS


@contextmanager
def serve_in_thread(settings: ShopApiSettings) -> Iterator[str]:
    """Serve ``create_app(settings)`` on ``settings.port`` (0: a free one); yields the base URL."""
    with web_server.serve_in_thread(create_app(settings), settings.port, name="shop-api") as url:
        yield url


@dataclass(frozen=True)
class SeedProduct:
    product_id: str
    stock: int
    price: Decimal = Decimal("10.00")
    category: str = "general"
    tags: Sequence[str] = field(default_factory=tuple)


async def seed_catalog(
    conn: asyncpg.Connection, schema: str, products: Sequence[SeedProduct]
) -> None:
    """Migrate ``schema`` and insert ``products`` with the given stock (a catalog the stream has
    not fed: the tests set stock themselves)."""
    await SHOP_MIGRATIONS.apply(conn, schema)
    await conn.executemany(
        f'INSERT INTO "{schema}".products (product_id, name, category, price, stock, attributes,'
        " catalog_event_time) VALUES ($1, $1, $2, $3, $4, $5::jsonb, $6)",
        [
            (
                p.product_id,
                p.category,
                p.price,
                p.stock,
                json.dumps({"category": p.category, "tags": list(p.tags)}),
                datetime.now(UTC),
            )
            for p in products
        ],
    )
