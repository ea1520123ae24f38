"""Product deletions end to end: producer load (the catalog) -> Kafka -> event-consumer -> MongoDB
collection ``products``, then ``producer delete-product`` tombstones -> the products are gone,
the others stay, nothing in the DLQ.

Runs in a namespace of its own (topics, database, group): see conftest.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from polystream_common.topics import PRODUCTS

from .conftest import (
    E2ENamespace,
    delete_products,
    group_lag,
    read_all,
    run_producer,
    wait_until,
)

pytestmark = pytest.mark.e2e

MODULE = "event_consumer"
CATALOG_SIZE = 300  # the generator's catalog: prod-00000 .. prod-00299, then price updates
SENT = 400
DELETED = [f"prod-{i:05d}" for i in range(0, CATALOG_SIZE, 10)]


def product_ids(mongo_url: str, database: str) -> set[str]:
    async def query() -> set[str]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
        try:
            return {str(d["_id"]) async for d in client[database]["products"].find({}, {"_id": 1})}
        finally:
            await client.close()

    return asyncio.run(query())


def test_deleted_products_leave_mongodb_and_the_rest_stay(
    tmp_path: Path,
    services: Any,
    namespace: E2ENamespace,
    kafka_bootstrap: str,
    mongo_url: str,
) -> None:
    ns, database = namespace, namespace.mongo_database
    topic = ns.stream(PRODUCTS).topic
    report = run_producer(
        ["load", "--count", str(SENT), "--mix", "products=1", "--seed", "7", "--quiet"],
        tmp_path / "producer.json",
        ns.env("producer"),
    )
    assert report["errors"] == 0 and int(report["acked"]) == SENT

    consumer = services(MODULE, ns.env(MODULE))
    everything = {f"prod-{i:05d}" for i in range(CATALOG_SIZE)}
    # The updates re-publish catalog products: one document per product, whatever the count.
    wait_until(
        lambda: (
            product_ids(mongo_url, database) == everything
            and group_lag(ns.bootstrap, ns.group(MODULE), topic) == 0
        ),
        300,
        "the whole catalog in MongoDB",
        service=consumer,
    )

    assert delete_products(ns, DELETED) == {"topic": topic, "deleted": DELETED}

    remaining = everything - set(DELETED)
    wait_until(
        lambda: (
            product_ids(mongo_url, database) == remaining
            and group_lag(ns.bootstrap, ns.group(MODULE), topic) == 0
        ),
        120,
        "the deleted products gone",
        service=consumer,
    )
    assert read_all(kafka_bootstrap, ns.stream(PRODUCTS).dlq_topic, 0, timeout_s=10) == []
    assert consumer.terminate() == 0
