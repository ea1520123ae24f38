"""A PostgreSQL connection on one schema, for readers and one-off commands."""

from __future__ import annotations

import asyncpg

from polystream_common.settings import PostgresSettings


async def connect(settings: PostgresSettings, schema: str = "public") -> asyncpg.Connection:
    """One asyncpg connection whose search_path is ``schema``, so the read models' unqualified
    table names resolve there. Connects with keyword arguments: no DSN, nothing to escape."""
    return await asyncpg.connect(
        **settings.connect_kwargs(), server_settings={"search_path": f'"{schema}"'}
    )
