"""recsys-api against its own OpenAPI schema, with schemathesis: every operation is called with
generated valid and invalid parameters over real HTTP (uvicorn in a thread) on the real stores,
each in a namespace of this module's own (a small seeded data set), with the API key on, and every
response must be no server error, conform to the schema (status code, content type, body) and
reject what the schema excludes.

The encoder is the hashing fake: the model is not what is tested here, and generated queries are
arbitrary text."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import schemathesis
from neo4j import AsyncGraphDatabase
from pydantic import SecretStr
from pymilvus import MilvusClient
from pymongo import AsyncMongoClient

from polystream_common.settings import RedisSettings
from polystream_embeddings.settings import EmbeddingSettings
from polystream_embeddings.testing import HashingEncoder
from polystream_readmodels.collections import USER_EVENTS_COLLECTION
from polystream_readmodels.engagement import ENGAGEMENT_MIGRATIONS
from polystream_readmodels.graph import GraphLabels
from polystream_readmodels.rollups import ROLLUP_MIGRATIONS
from polystream_readmodels.sensors import SENSOR_MIGRATIONS
from polystream_vectors.settings import MilvusSettings
from polystream_web.server import serve_in_thread
from recsys_api.app import create_app
from recsys_api.cache import CacheSettings
from recsys_api.settings import RateLimitSettings, RecsysApiSettings

from .graph_fixtures import drop_graph, neo4j_settings
from .openapi_harness import assert_every_operation_conforms, stack_mongo, stack_postgres

pytestmark = pytest.mark.integration

DIM = 384
API_KEY = f"key-{uuid.uuid4().hex}"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
async def namespace(stack: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    """A PostgreSQL schema with every read model, a MongoDB database, a graph label prefix and
    a collection prefix, seeded with a little of each; dropped after."""
    ns = f"t{uuid.uuid4().hex[:8]}"
    pg = stack_postgres(stack)
    conn = await asyncpg.connect(**pg.connect_kwargs())
    for migrations in (SENSOR_MIGRATIONS, ROLLUP_MIGRATIONS, ENGAGEMENT_MIGRATIONS):
        await migrations.apply(conn, ns)
    await conn.execute(
        f'INSERT INTO "{ns}".engagement_scores (entity_type, entity_id, score, as_of, half_life_s)'
        " VALUES ('product', 'p1', 3.0, $1, 3600), ('product', 'p2', 1.0, $1, 3600)",
        NOW,
    )
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{stack['MONGO_PORT']}"
    )
    await mongo[ns][USER_EVENTS_COLLECTION.name].insert_many(
        [
            {
                "_id": f"e{i}",
                "user_id": "u1",
                "event_type": kind,
                "product_id": "p1",
                "event_time": NOW,
                "session_id": "s1",
            }
            for i, kind in enumerate(("view", "click", "add_to_cart"))
        ]
    )
    labels = GraphLabels(f"{ns}_")
    n4j = neo4j_settings(stack)
    driver = AsyncGraphDatabase.driver(n4j.uri, auth=(n4j.user, n4j.password.get_secret_value()))
    await driver.execute_query(
        f"MERGE (u:`{labels.user}` {{id: 'u1'}}) MERGE (p:`{labels.product}` {{id: 'p1'}})"
        " MERGE (u)-[:INTERACTED {type: 'view', count: 1}]->(p)"
    )
    try:
        yield {"ns": ns, "label_prefix": labels.prefix}
    finally:
        await drop_graph(driver, labels)
        await driver.close()
        await mongo.drop_database(ns)
        await mongo.close()
        await conn.execute(f'DROP SCHEMA IF EXISTS "{ns}" CASCADE')
        await conn.close()


@pytest.fixture(scope="module")
def base_url(stack: dict[str, str], namespace: dict[str, str]) -> Iterator[str]:
    ns = namespace["ns"]
    settings = RecsysApiSettings(
        collection_prefix=f"{ns}_",
        label_prefix=namespace["label_prefix"],
        embedding=EmbeddingSettings(dimension=DIM),
        milvus=MilvusSettings(uri=f"http://127.0.0.1:{stack['MILVUS_PORT']}"),
        neo4j=neo4j_settings(stack),
        postgres=stack_postgres(stack),
        postgres_schema=ns,
        mongo=stack_mongo(stack, ns),
        redis=RedisSettings(url=SecretStr(f"redis://127.0.0.1:{stack['REDIS_PORT']}/0")),
        cache=CacheSettings(enabled=False),  # every generated call reaches the stores
        rate_limit=RateLimitSettings(enabled=False),
        invalidations=False,
        api_key=SecretStr(API_KEY),
    )
    app = create_app(settings, encoder=HashingEncoder(DIM))
    try:
        with serve_in_thread(app, name="recsys-api") as url:
            yield url
    finally:
        milvus = MilvusClient(uri=settings.milvus.uri)
        for name in milvus.list_collections():
            if name.startswith(f"{ns}_"):
                milvus.drop_collection(name)
        milvus.close()


@pytest.fixture(scope="module")
def api_schema(base_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


def test_every_operation_conforms_to_its_schema(api_schema: schemathesis.BaseSchema) -> None:
    """Each operation, with valid (positive) and schema-violating (negative) parameters, up to
    20 generated calls each (:mod:`.openapi_harness`)."""
    assert_every_operation_conforms(api_schema, api_key=API_KEY, max_examples=20, min_operations=10)
