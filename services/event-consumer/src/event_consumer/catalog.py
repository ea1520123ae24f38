"""ProductCatalogSink: the product catalog (``products.catalog``, a compacted table stream) as one
MongoDB document per product, deleted when the product is.

A document is the product's latest record: ``_id`` is the ``product_id`` (the Kafka key), the
other fields are the record's own (``tags`` an array, ``event_time`` a BSON date), plus where it
came from in Kafka and when it was written.

Idempotence and order: each product is one ``ReplaceOne`` upsert on ``_id``, so a redelivered
batch writes the same documents again and leaves one per product. Records of a product share a
partition and arrive in offset order, and a redelivery replays from the checkpoint onwards in
the same order, so the last write of a product is always its latest record. The loop keeps only
the latest record of a key within a batch; :meth:`ProductCatalogSink.write` keeps the last one
again, because an unordered bulk may apply two writes of one ``_id`` in either order.

Deletes: a tombstone (null value) of ``products.catalog`` reaches :meth:`delete` and removes the
product's document; deleting a product that is not there is fine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError

from event_consumer.mongo import MongoCollectionSink, MongoConnection, rejections_for
from polystream_common.schemas import Product
from polystream_common.sink import DeletingSink, Deletion, Rejection, SinkRecord
from polystream_readmodels.collections import PRODUCTS_COLLECTION

log = logging.getLogger(__name__)


def product_document(record: SinkRecord[Product], ingested_at: datetime) -> dict[str, Any]:
    """The document stored for one product record; ``_id`` is the ``product_id``."""
    product = record.value
    fields = product.model_dump(mode="python", exclude={"product_id", "event_id", "tags"})
    return {
        "_id": product.product_id,
        "event_id": str(product.event_id),
        **fields,
        "tags": list(product.tags),
        "kafka": {"topic": record.topic, "partition": record.partition, "offset": record.offset},
        "ingested_at": ingested_at,
    }


def latest_per_product(batch: Sequence[SinkRecord[Product]]) -> list[SinkRecord[Product]]:
    """The batch's last record of each product, in the order of their first appearance."""
    latest: dict[str, SinkRecord[Product]] = {}
    for record in batch:
        latest[record.value.product_id] = record
    return list(latest.values())


def product_ids(deletions: Sequence[Deletion]) -> list[str]:
    """The product ids of tombstones; a key that is not UTF-8 names no product (ids are written
    as ``str(product_id).encode()``), so there is nothing to delete for it."""
    ids: list[str] = []
    for deletion in deletions:
        try:
            ids.append(deletion.key.decode())
        except UnicodeDecodeError:
            log.warning(
                "tombstone key is not UTF-8: no product to delete",
                extra={"topic": deletion.topic, "offset": deletion.offset},
            )
    return ids


class ProductCatalogSink(MongoCollectionSink[Product], DeletingSink[Product]):
    """Keeps collection ``products`` equal to the catalog: upsert on write, remove on delete."""

    def __init__(self, connection: MongoConnection) -> None:
        super().__init__(connection, PRODUCTS_COLLECTION)

    async def write(self, batch: Sequence[SinkRecord[Product]]) -> Sequence[Rejection[Product]]:
        if not batch:
            return []
        ingested_at = datetime.now(UTC)
        records = latest_per_product(batch)
        requests = [
            ReplaceOne({"_id": r.value.product_id}, product_document(r, ingested_at), upsert=True)
            for r in records
        ]
        try:
            await self.collection.bulk_write(requests, ordered=False)
        except BulkWriteError as exc:
            rejections = rejections_for(records, exc.details, upserts=True)
            if rejections:
                log.warning(
                    "products refused",
                    extra={"collection": self._spec.name, "refused": len(rejections)},
                )
            return rejections
        return []

    async def delete(self, deletions: Sequence[Deletion]) -> None:
        ids = product_ids(deletions)
        if ids:
            await self.collection.delete_many({"_id": {"$in": ids}})
