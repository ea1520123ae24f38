"""PostgresSettings against the real server: a password full of URL characters reaches it as
written, through ``connect_kwargs()`` and through the read models' ``connect``. The local stack
checks passwords (scram-sha-256 on TCP), so a mangled one would be refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from pydantic import SecretStr

from polystream_common.settings import PostgresSettings
from polystream_readmodels.postgres import connect

URL_HOSTILE_PASSWORD = "p@ss/w:rd#1"


@pytest.fixture
async def role_settings(settings: PostgresSettings) -> AsyncIterator[PostgresSettings]:
    """Settings of a login role of this test's own, whose password is ``p@ss/w:rd#1``; the role
    is created by the stack's superuser and dropped after."""
    role = f"test_pw_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(**settings.connect_kwargs())
    try:
        # CREATE ROLE takes no bind parameters: the literal is quoted by the server's rules.
        quoted = await admin.fetchval("SELECT quote_literal($1::text)", URL_HOSTILE_PASSWORD)
        await admin.execute(f'CREATE ROLE "{role}" LOGIN PASSWORD {quoted}')
        yield settings.model_copy(
            update={"user": role, "password": SecretStr(URL_HOSTILE_PASSWORD)}
        )
    finally:
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


async def test_a_password_with_url_characters_connects(role_settings: PostgresSettings) -> None:
    conn = await asyncpg.connect(**role_settings.connect_kwargs())
    try:
        assert await conn.fetchval("SELECT current_user") == role_settings.user
    finally:
        await conn.close()


async def test_the_read_models_connect_with_it_on_their_schema(
    role_settings: PostgresSettings,
) -> None:
    conn = await connect(role_settings, "readers_schema")
    try:
        assert await conn.fetchval("SELECT current_user") == role_settings.user
        assert await conn.fetchval("SHOW search_path") == '"readers_schema"'
    finally:
        await conn.close()


async def test_the_password_is_checked(role_settings: PostgresSettings) -> None:
    """The control: the server does check it, so the tests above prove it arrived intact."""
    wrong = role_settings.model_copy(update={"password": SecretStr("p")})
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(**wrong.connect_kwargs())
