"""Fixtures of the integration tests: the local stack's settings, and a PostgreSQL schema or a
MongoDB database of each test's own, dropped after (tests never see each other's rows)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from polystream_common.settings import MongoSettings, PostgresSettings

from .redis_fixtures import PrivateRedis, free_port


@pytest.fixture
def settings(stack: dict[str, str]) -> PostgresSettings:
    return PostgresSettings(
        port=int(stack["POSTGRES_PORT"]),
        user=stack["POSTGRES_USER"],
        password=SecretStr(stack["POSTGRES_PASSWORD"]),
        database=stack["POSTGRES_DB"],
    )


@pytest.fixture
async def schema(postgres_dsn: str) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, on a free port, killed after."""
    server = PrivateRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def mongo_settings(mongo_url: str) -> AsyncIterator[MongoSettings]:
    """A MongoDB database of the test's own, dropped after."""
    settings = MongoSettings(url=mongo_url, database=f"test_{uuid.uuid4().hex[:12]}")
    yield settings
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    await client.drop_database(settings.database)
    await client.close()


@pytest.fixture
async def db(
    mongo_url: str, mongo_settings: MongoSettings
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """That database, read directly (timestamps tz-aware)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    yield client[mongo_settings.database]
    await client.close()
