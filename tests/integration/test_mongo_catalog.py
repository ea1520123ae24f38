"""ProductCatalogSink against the real MongoDB wire-protocol server of the local stack: one
document per product with its latest fields, deletes, and a delete of a missing product.

Each test works in a database of its own, dropped after it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from event_consumer.catalog import ProductCatalogSink
from event_consumer.mongo import MongoConnection
from polystream_common.schemas import Product
from polystream_common.settings import MongoSettings
from polystream_common.sink import Deletion, SinkRecord

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def sink(mongo_settings: MongoSettings) -> AsyncIterator[ProductCatalogSink]:
    catalog = ProductCatalogSink(MongoConnection(mongo_settings))
    await catalog.setup()
    yield catalog
    await catalog.close()


def product(product_id: str, minutes: int = 0, **fields: Any) -> Product:
    values: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "event_time": T0 + timedelta(minutes=minutes),
        "product_id": product_id,
        "name": f"Product {product_id}",
        "description": "",
        "category": "shoes",
        "price": 10.0,
        **fields,
    }
    return Product(**values)


def records(products: list[Product], first_offset: int = 0) -> list[SinkRecord[Product]]:
    return [
        SinkRecord(p, "products.catalog", 1, first_offset + i, p.key())
        for i, p in enumerate(products)
    ]


def deletions(*ids: str) -> list[Deletion]:
    return [Deletion(i.encode(), "products.catalog", 1, 100 + n) for n, i in enumerate(ids)]


async def test_a_product_written_twice_is_one_document_with_its_latest_fields(
    sink: ProductCatalogSink, db: AsyncDatabase[dict[str, Any]]
) -> None:
    first = product("p-1", 0, price=10.0, tags=("a",))
    assert await sink.write(records([first, product("p-2")])) == []
    latest = product("p-1", 5, name="Renamed", price=12.5, tags=("a", "b"), category="boots")
    assert await sink.write(records([latest], first_offset=2)) == []
    assert await sink.write(records([latest], first_offset=2)) == []  # a redelivery

    docs = {d["_id"]: d async for d in db.products.find()}
    assert sorted(docs) == ["p-1", "p-2"]
    doc = docs["p-1"]
    assert {k: doc[k] for k in ("name", "price", "category", "tags", "event_time")} == {
        "name": "Renamed",
        "price": 12.5,
        "category": "boots",
        "tags": ["a", "b"],
        "event_time": T0 + timedelta(minutes=5),
    }
    assert doc["event_id"] == str(latest.event_id)
    assert doc["kafka"] == {"topic": "products.catalog", "partition": 1, "offset": 2}


async def test_the_last_record_of_a_product_in_one_batch_wins(
    sink: ProductCatalogSink, db: AsyncDatabase[dict[str, Any]]
) -> None:
    batch = [product("p-1", i, price=float(i)) for i in range(20)]
    assert await sink.write(records(batch)) == []
    assert [d["price"] async for d in db.products.find()] == [19.0]


async def test_a_deleted_product_is_gone_and_the_others_stay(
    sink: ProductCatalogSink, db: AsyncDatabase[dict[str, Any]]
) -> None:
    await sink.write(records([product(f"p-{i}") for i in range(5)]))
    await sink.delete(deletions("p-1", "p-3"))
    assert sorted([d["_id"] async for d in db.products.find()]) == ["p-0", "p-2", "p-4"]


async def test_deleting_a_missing_product_is_fine_and_deleting_again_too(
    sink: ProductCatalogSink, db: AsyncDatabase[dict[str, Any]]
) -> None:
    await sink.write(records([product("p-1")]))
    await sink.delete(deletions("never-there"))
    await sink.delete(deletions("p-1"))
    await sink.delete(deletions("p-1"))  # a redelivered tombstone
    await sink.delete([])
    assert await db.products.count_documents({}) == 0


async def test_a_deleted_product_written_again_comes_back(
    sink: ProductCatalogSink, db: AsyncDatabase[dict[str, Any]]
) -> None:
    await sink.write(records([product("p-1", 0)]))
    await sink.delete(deletions("p-1"))
    await sink.write(records([product("p-1", 9, name="Back")], first_offset=200))
    assert [d["name"] async for d in db.products.find()] == ["Back"]
