"""Schema migrations: the numbered ``migrations/NNNN_name.sql`` files of this package, each applied
once, in order, and recorded in ``schema_migrations``.

All of it runs in one transaction under an advisory lock: several replicas may start at once, the
first applies, the others wait and then find nothing to do. A second run is a no-op.
"""

from __future__ import annotations

import logging
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of this service's migrations (any bigint unique to the service).
LOCK_ID = 0x5E4504


def available() -> list[tuple[str, str]]:
    """(version, sql) of each migration shipped in this package, in order."""
    folder = resources.files("sensor_consumer") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text()) for f in files]


async def migrate(conn: asyncpg.Connection, schema: str = "public") -> list[str]:
    """Apply the migrations not applied yet in ``schema`` (created if missing).

    Returns the versions applied by this call: empty when the schema was up to date.
    """
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_ID)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        # The .sql files name tables unqualified: they land in the schema whatever the caller's
        # search_path.
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')
        done = {r["version"] for r in rows}
        for version, sql in available():
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute(
                f'INSERT INTO "{schema}".schema_migrations (version) VALUES ($1)', version
            )
            applied_now.append(version)
            log.info("applied migration", extra={"version": version, "schema": schema})
    return applied_now
