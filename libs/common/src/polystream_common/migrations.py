"""SQL schema migrations: numbered ``NNNN_name.sql`` files in a package folder, each applied once,
in order, and recorded in ``schema_migrations`` of the target schema.

All of it runs in one transaction under an advisory lock: several replicas may start at once, the
first applies, the others wait and then find nothing to do. A second run is a no-op.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migrations:
    """The migrations shipped in ``package``'s ``folder``, guarded by advisory lock ``lock_id``
    (any bigint unique to the set)."""

    package: str
    folder: str
    lock_id: int

    def available(self) -> list[tuple[str, str]]:
        """(version, sql) of each migration, in order."""
        root = resources.files(self.package) / self.folder
        files = sorted((f for f in root.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
        return [(f.name.removesuffix(".sql"), f.read_text()) for f in files]

    async def apply(self, conn: Any, schema: str = "public") -> list[str]:
        """Apply the migrations not applied yet in ``schema`` (created if missing), on an asyncpg
        connection. Returns the versions applied by this call: empty when up to date."""
        applied_now: list[str] = []
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", self.lock_id)
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            # The .sql files name tables unqualified: they land in the schema whatever the
            # caller's search_path.
            await conn.execute(f'SET LOCAL search_path TO "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')
            done = {r["version"] for r in rows}
            for version, sql in self.available():
                if version in done:
                    continue
                await conn.execute(sql)
                await conn.execute(
                    f'INSERT INTO "{schema}".schema_migrations (version) VALUES ($1)', version
                )
                applied_now.append(version)
                log.info("applied migration", extra={"version": version, "schema": schema})
        return applied_now
