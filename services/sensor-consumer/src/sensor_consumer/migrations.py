"""sensor-consumer's schema migrations: the numbered SQL files in ``migrations/``."""

from __future__ import annotations

from typing import Any

from polystream_common.migrations import Migrations

SENSOR_MIGRATIONS = Migrations("sensor_consumer", "migrations", lock_id=0x5E4504)


def available() -> list[tuple[str, str]]:
    return SENSOR_MIGRATIONS.available()


async def migrate(conn: Any, schema: str = "public") -> list[str]:
    """Apply the migrations not applied yet in ``schema``; the versions applied by this call."""
    return await SENSOR_MIGRATIONS.apply(conn, schema)
