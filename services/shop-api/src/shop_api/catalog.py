"""``products.catalog`` -> shop-api's PostgreSQL catalog, through the core loop (a Sink).

The catalog is a compacted table stream: a record upserts its product (price, name, category,
the JSONB ``attributes``), a tombstone deactivates it (it can no longer be ordered; its sales
stay). Stock is not on the stream: a product first seen gets ``initial_stock`` from the
settings, and no later record changes it (see :func:`shop_api.store.upsert_products`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from polystream_common import postgres
from polystream_common.schemas import Product
from polystream_common.settings import PostgresSettings
from polystream_common.sink import DeletingSink, Deletion, Rejection, SinkRecord
from shop_api.store import deactivate_products, open_pool, upsert_products


class CatalogSink(DeletingSink[Product]):
    """Writes catalog records into ``products``; migrates the schema at setup."""

    name = "postgres-catalog"
    transient_errors = postgres.UNAVAILABLE

    def __init__(self, settings: PostgresSettings, schema: str, initial_stock: int) -> None:
        self._settings = settings
        self._schema = schema
        self._initial_stock = initial_stock
        self._pool: asyncpg.Pool | None = None

    async def setup(self) -> None:
        if self._pool is None:
            self._pool = await open_pool(self._settings, self._schema, max_size=2)

    async def write(self, batch: Sequence[SinkRecord[Product]]) -> Sequence[Rejection[Product]]:
        latest: dict[str, Product] = {}
        for record in batch:  # the last of a key wins, as on the compacted topic
            latest[record.value.product_id] = record.value
        async with self._required().acquire() as conn, conn.transaction():
            await upsert_products(conn, list(latest.values()), self._initial_stock)
        return []

    async def delete(self, deletions: Sequence[Deletion]) -> None:
        ids = sorted({d.key.decode("utf-8", "replace") for d in deletions})
        async with self._required().acquire() as conn:
            await deactivate_products(conn, ids)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _required(self) -> Any:
        if self._pool is None:
            raise ConnectionError("CatalogSink used before setup()")
        return self._pool
