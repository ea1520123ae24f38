"""The product catalog: its documents, latest record wins in a batch, tombstone keys. No I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from event_consumer.catalog import (
    ProductCatalogSink,
    latest_per_product,
    product_document,
    product_ids,
)
from event_consumer.mongo import MongoConnection
from polystream_common.schemas import Product
from polystream_common.settings import MongoSettings
from polystream_common.sink import DeletingSink, Deletion, SinkRecord
from polystream_readmodels.collections import PRODUCTS_COLLECTION

T0 = datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)
EVENT_ID = uuid.UUID("0b7e6a1f-2c1d-4a8e-9a55-0f5d0d7f1c02")


def product(product_id: str = "p-42", **overrides: Any) -> Product:
    fields: dict[str, Any] = {
        "event_id": EVENT_ID,
        "event_time": T0,
        "product_id": product_id,
        "name": "Trail shoe",
        "description": "Light, with a stiff sole",
        "category": "shoes",
        "price": 89.9,
        "tags": ("running", "outdoor"),
    }
    return Product(**{**fields, **overrides})


def record(value: Product, offset: int = 7) -> SinkRecord[Product]:
    return SinkRecord(value, "products.catalog", 1, offset, value.key())


def test_a_product_becomes_one_document_keyed_by_its_id() -> None:
    assert product_document(record(product()), NOW) == {
        "_id": "p-42",
        "event_id": "0b7e6a1f-2c1d-4a8e-9a55-0f5d0d7f1c02",
        "event_time": T0,
        "schema_version": 1,
        "name": "Trail shoe",
        "description": "Light, with a stiff sole",
        "category": "shoes",
        "price": 89.9,
        "tags": ["running", "outdoor"],
        "kafka": {"topic": "products.catalog", "partition": 1, "offset": 7},
        "ingested_at": NOW,
    }


def test_a_product_without_tags_stores_an_empty_array() -> None:
    assert product_document(record(product(tags=())), NOW)["tags"] == []


def test_the_last_record_of_a_product_in_a_batch_wins() -> None:
    batch = [
        record(product("a", price=1.0), 1),
        record(product("b", price=2.0), 2),
        record(product("a", price=3.0), 3),
    ]
    latest = latest_per_product(batch)
    assert [(r.value.product_id, r.value.price, r.offset) for r in latest] == [
        ("a", 3.0, 3),
        ("b", 2.0, 2),
    ]


def test_tombstone_keys_are_product_ids_and_a_key_that_is_not_utf8_names_none() -> None:
    deletions = [
        Deletion(b"p-1", "products.catalog", 0, 10),
        Deletion(b"\xff\xfe", "products.catalog", 0, 11),
        Deletion("produit-é".encode(), "products.catalog", 2, 12),
    ]
    assert product_ids(deletions) == ["p-1", "produit-é"]


def test_the_catalog_sink_deletes_and_indexes_by_category() -> None:
    sink = ProductCatalogSink(MongoConnection(MongoSettings()))
    assert isinstance(sink, DeletingSink)
    assert sink.name == "mongo-products"
    assert PRODUCTS_COLLECTION.name == "products"
    assert [index.document["key"] for index in PRODUCTS_COLLECTION.indexes] == [
        {"category": 1, "price": 1}
    ]


async def test_writing_or_deleting_before_setup_is_an_error() -> None:
    sink = ProductCatalogSink(MongoConnection(MongoSettings()))
    with pytest.raises(RuntimeError, match="setup"):
        await sink.write([record(product())])
    with pytest.raises(RuntimeError, match="setup"):
        await sink.delete([Deletion(b"p-1", "products.catalog", 0, 1)])
