"""The local stack's Milvus 2.3 standalone server (deploy/local/milvus) through pymilvus: a
collection of the test's own, idempotent upserts by primary key, and nearest-neighbour search."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest
from pymilvus import DataType, MilvusClient

DIM = 384
COUNT = 200


@pytest.fixture
def client(stack: dict[str, str]) -> Iterator[MilvusClient]:
    client = MilvusClient(uri=f"http://127.0.0.1:{stack['MILVUS_PORT']}", timeout=30)
    yield client
    client.close()


@pytest.fixture
def collection(client: MilvusClient) -> Iterator[str]:
    name = f"test_server_{uuid.uuid4().hex[:12]}"
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="COSINE")
    client.create_collection(name, schema=schema, index_params=index)
    yield name
    client.drop_collection(name)


def test_upserts_by_primary_key_are_idempotent_and_search_finds_the_stored_vector(
    client: MilvusClient, collection: str
) -> None:
    rng = random.Random(7)
    vectors = [[rng.gauss(0.0, 1.0) for _ in range(DIM)] for _ in range(COUNT)]
    rows = [{"id": i, "vector": vectors[i]} for i in range(COUNT)]

    client.upsert(collection, rows)
    client.upsert(collection, rows)  # a redelivery: same keys, so no new entities
    client.flush(collection)

    counted = client.query(collection, filter="", output_fields=["count(*)"])
    assert counted[0]["count(*)"] == COUNT
    hits = client.search(collection, data=[vectors[42]], limit=3)
    assert hits[0][0]["id"] == 42
    assert hits[0][0]["distance"] == pytest.approx(1.0, abs=1e-4)
