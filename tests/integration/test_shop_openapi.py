"""shop-api against its own OpenAPI schema, with schemathesis: every operation is called with
generated valid and invalid parameters and bodies over real HTTP (uvicorn in a thread) on the
real PostgreSQL, MongoDB and a Redis of this module's own, with the API key on. Every response
must be no server error, conform to the schema (status code, content type, body) and reject what
the schema excludes. A small catalog is seeded so that some generated ids exist."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
import schemathesis
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from polystream_common.settings import RedisSettings
from polystream_web.security import RateLimitSettings
from shop_api.settings import ShopApiSettings
from shop_api.testing import SeedProduct, seed_catalog, serve_in_thread

from .openapi_harness import assert_every_operation_conforms, stack_mongo, stack_postgres
from .redis_fixtures import PrivateRedis, free_port

pytestmark = pytest.mark.integration

API_KEY = f"key-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def module_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
async def namespace(stack: dict[str, str]) -> AsyncIterator[str]:
    ns = f"t{uuid.uuid4().hex[:8]}"
    pg = stack_postgres(stack)
    conn = await asyncpg.connect(**pg.connect_kwargs())
    await seed_catalog(conn, ns, [SeedProduct("0", stock=1000), SeedProduct("A", stock=1000)])
    try:
        yield ns
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{ns}" CASCADE')
        await conn.close()
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            f"mongodb://127.0.0.1:{stack['MONGO_PORT']}"
        )
        await mongo.drop_database(ns)
        await mongo.close()


@pytest.fixture(scope="module")
def base_url(stack: dict[str, str], namespace: str, module_redis: PrivateRedis) -> Iterator[str]:
    shop = ShopApiSettings(
        port=0,
        postgres=stack_postgres(stack),
        postgres_schema=namespace,
        mongo=stack_mongo(stack, namespace),
        redis=RedisSettings(url=SecretStr(f"redis://127.0.0.1:{module_redis.port}/0")),
        rate_limit=RateLimitSettings(enabled=False),
        api_key=SecretStr(API_KEY),
    )
    with serve_in_thread(shop) as url:
        yield url


def test_every_operation_conforms_to_its_schema(base_url: str) -> None:
    """Each operation, with valid (positive) and schema-violating (negative) input, up to 25
    generated calls each (:mod:`.openapi_harness`)."""
    api_schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    assert_every_operation_conforms(api_schema, api_key=API_KEY, max_examples=25, min_operations=12)
