"""The aggregator's PostgreSQL writer against the real PostgreSQL of the local stack, in a schema
of each test's own (dropped after): upserts are idempotent, a replay leaves the same rows, scores
only move forward, and the read models read them back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aggregator.engagement import epoch_ms
from aggregator.postgres import AggregateWriter

from polystream_common.settings import PostgresSettings
from polystream_readmodels import engagement, rollups
from polystream_readmodels.postgres import connect

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)
MINUTE_MS = 60_000
HALF_LIFE_S = 3600.0


@pytest.fixture
async def writer(settings: PostgresSettings, schema: str) -> AsyncIterator[AggregateWriter]:
    postgres = AggregateWriter(settings, schema)
    await postgres.migrate()
    yield postgres
    await postgres.close()


@pytest.fixture
async def conn(
    settings: PostgresSettings, schema: str, writer: AggregateWriter
) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(settings, schema)
    yield connection
    await connection.close()


def update(
    entity_id: str,
    minute: int,
    counts: dict[str, int],
    score: float,
    totals: dict[str, int],
    entity_type: str = "product",
) -> dict[str, Any]:
    start = epoch_ms(T0) + minute * MINUTE_MS
    return {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "window_start_ms": start,
        "window_end_ms": start + MINUTE_MS,
        "counts": counts,
        "score": score,
        "as_of_ms": start + MINUTE_MS,
        "half_life_s": HALF_LIFE_S,
        "totals": totals,
    }


def rollup(sensor_id: str, minute: int, count: int, low: float, high: float, mean: float) -> Any:
    start = epoch_ms(T0) + minute * MINUTE_MS
    return {
        "sensor_id": sensor_id,
        "window_start_ms": start,
        "window_end_ms": start + MINUTE_MS,
        "count": count,
        "min": low,
        "max": high,
        "mean": mean,
    }


async def table(conn: asyncpg.Connection, name: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await conn.fetch(f"SELECT * FROM {name} ORDER BY 1, 2, 3, 4")]


async def test_migrations_apply_once(writer: AggregateWriter) -> None:
    assert await writer.migrate() == []


async def test_a_replayed_batch_leaves_the_same_rows(
    writer: AggregateWriter, conn: asyncpg.Connection
) -> None:
    batch = [
        update("p1", 0, {"view": 3, "purchase": 1}, 23.0, {"view": 3, "purchase": 1}),
        update("c1", 0, {"campaign_view": 2}, 2.0, {"campaign_view": 2}, "campaign"),
        update("p1", 1, {"click": 1}, 25.9, {"view": 3, "purchase": 1, "click": 1}),
    ]
    assert await writer.write_engagement(batch) == (4, 2)
    windows = await table(conn, "engagement_windows")
    scores = [r[:11] for r in await table(conn, "engagement_scores")]  # without updated_at

    assert await writer.write_engagement(batch) == (4, 2)  # the replay after a crash
    assert await table(conn, "engagement_windows") == windows
    assert [r[:11] for r in await table(conn, "engagement_scores")] == scores
    assert await conn.fetchval("SELECT sum(count) FROM engagement_windows") == 7
    row = await conn.fetchrow("SELECT * FROM engagement_scores WHERE entity_id = 'p1'")
    assert row["score"] == 25.9 and row["as_of"] == T0 + timedelta(minutes=2)
    assert (row["views"], row["clicks"], row["purchases"], row["add_to_carts"]) == (3, 1, 1, 0)


async def test_the_last_value_of_a_window_wins(
    writer: AggregateWriter, conn: asyncpg.Connection
) -> None:
    await writer.write_engagement([update("p1", 0, {"view": 1}, 1.0, {"view": 1})])
    await writer.write_engagement([update("p1", 0, {"view": 4}, 4.0, {"view": 4})])
    assert await conn.fetchval("SELECT count FROM engagement_windows") == 4
    assert await conn.fetchval("SELECT score FROM engagement_scores") == 4.0


async def test_a_score_never_moves_back_in_time(
    writer: AggregateWriter, conn: asyncpg.Connection
) -> None:
    await writer.write_engagement([update("p1", 5, {"view": 1}, 9.0, {"view": 9})])
    await writer.write_engagement([update("p1", 2, {"view": 1}, 5.0, {"view": 5})])
    row = await conn.fetchrow("SELECT score, views FROM engagement_scores")
    assert (row["score"], row["views"]) == (9.0, 9)
    # the older window itself is still recorded
    assert await conn.fetchval("SELECT count(*) FROM engagement_windows") == 2


async def test_rollups_upsert_by_sensor_and_window(
    writer: AggregateWriter, conn: asyncpg.Connection
) -> None:
    batch = [rollup("s1", 0, 3, 1.0, 5.0, 3.0), rollup("s1", 1, 1, 2.0, 2.0, 2.0)]
    assert await writer.write_rollups(batch) == 2
    assert await writer.write_rollups(batch) == 2
    assert await writer.write_rollups([rollup("s1", 1, 2, 2.0, 4.0, 3.0)]) == 1
    rows = await rollups.sensor_rollups(conn, T0, T0 + timedelta(hours=1), "s1")
    assert [(r.count, r.min, r.max, r.mean) for r in rows] == [
        (3, 1.0, 5.0, 3.0),
        (2, 2.0, 4.0, 3.0),
    ]
    assert rows[0].window_start == T0 and rows[0].window_end == T0 + timedelta(minutes=1)


async def test_duplicate_keys_in_one_batch_keep_the_last(
    writer: AggregateWriter, conn: asyncpg.Connection
) -> None:
    await writer.write_rollups(
        [rollup("s1", 0, 1, 1.0, 1.0, 1.0), rollup("s1", 0, 2, 1.0, 3.0, 2.0)]
    )
    assert await conn.fetchval("SELECT count FROM sensor_rollups") == 2


async def test_ranking_decays_every_score_to_the_same_instant(
    writer: AggregateWriter, conn: asyncpg.Connection
) -> None:
    """An older score decays more: 10 an hour (one half-life) before 6 ranks below it."""
    await writer.write_engagement(
        [
            update("old", 0, {"purchase": 1}, 10.0, {"purchase": 1}),
            update("new", 60, {"add_to_cart": 1}, 6.0, {"add_to_cart": 1}),
        ]
    )
    now = T0 + timedelta(minutes=61)
    top = await engagement.top_entities(conn, "product", now)
    assert [(s.entity_id, round(s.score, 6)) for s in top] == [("new", 6.0), ("old", 5.0)]
    only = await engagement.top_entities(conn, "product", now, among=["old"])
    assert [s.entity_id for s in only] == ["old"]
    assert await engagement.top_entities(conn, "campaign", now) == []
    counts = await engagement.window_counts(conn, "product", "old", T0, now)
    assert [(c.event_type, c.count) for c in counts] == [("purchase", 1)]
