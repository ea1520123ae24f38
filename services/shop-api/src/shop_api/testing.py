"""What shop-api's tests and benchmark share: the app served by uvicorn in a thread on a free
port (real HTTP), and a catalog seeded straight into PostgreSQL."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import uvicorn

from shop_api.app import create_app
from shop_api.settings import ShopApiSettings
from shop_api.store import SHOP_MIGRATIONS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_in_thread(settings: ShopApiSettings) -> Iterator[str]:
    """Serve ``create_app(settings)`` on ``settings.port`` (0: a free one); yields the base URL."""
    port = settings.port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="shop-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("shop-api did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


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
