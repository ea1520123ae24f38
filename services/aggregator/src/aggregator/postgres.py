"""PostgreSQL adapters of the aggregator: an async writer of engagement and rollup rows, and the
Quix Streams sinks that run it at each checkpoint.

Every write is an upsert by the row's key, last value wins, in one statement per table: a window
is emitted once, as its final result, so a replay after a crash (the checkpoint that wrote the
rows but did not commit its Kafka transaction) writes the very same values again. Scores are
upserted only forward in time (``as_of`` not older than the stored one), so even a stale replay
cannot move a score back.

Quix flushes the sinks before it commits the checkpoint's transaction (``checkpoint.py``: flush
the sinks, then produce the changelogs, then commit): a row may be written twice, never lost.
A database that is down or overloaded raises :class:`SinkBackpressureError`: Quix drops the
checkpoint's open work, pauses the partitions and replays from the last commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg
from quixstreams.sinks import BatchingSink, SinkBackpressureError, SinkBatch

from aggregator.engagement import from_epoch_ms
from aggregator.metrics import AggregatorMetrics
from polystream_common import postgres
from polystream_common.settings import PostgresSettings
from polystream_readmodels.engagement import ENGAGEMENT_MIGRATIONS
from polystream_readmodels.postgres import connect
from polystream_readmodels.rollups import ROLLUP_MIGRATIONS

log = logging.getLogger(__name__)

# The columns of engagement_scores' totals, by event type.
TOTAL_COLUMNS = {
    "view": "views",
    "click": "clicks",
    "add_to_cart": "add_to_carts",
    "purchase": "purchases",
    "campaign_view": "campaign_views",
    "campaign_click": "campaign_clicks",
}

UPSERT_WINDOWS = """
INSERT INTO engagement_windows AS w
    (entity_type, entity_id, window_start, window_end, event_type, count)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[],
                     $6::bigint[])
ON CONFLICT (entity_type, entity_id, window_start, event_type)
DO UPDATE SET window_end = EXCLUDED.window_end, count = EXCLUDED.count
"""

UPSERT_SCORES = """
INSERT INTO engagement_scores AS s
    (entity_type, entity_id, score, as_of, half_life_s, views, clicks, add_to_carts, purchases,
     campaign_views, campaign_clicks)
SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::timestamptz[], $5::float8[],
                     $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
                     $11::bigint[])
ON CONFLICT (entity_type, entity_id) DO UPDATE SET
    score = EXCLUDED.score, as_of = EXCLUDED.as_of, half_life_s = EXCLUDED.half_life_s,
    views = EXCLUDED.views, clicks = EXCLUDED.clicks, add_to_carts = EXCLUDED.add_to_carts,
    purchases = EXCLUDED.purchases, campaign_views = EXCLUDED.campaign_views,
    campaign_clicks = EXCLUDED.campaign_clicks, updated_at = now()
WHERE s.as_of <= EXCLUDED.as_of
"""

UPSERT_ROLLUPS = """
INSERT INTO sensor_rollups AS r (sensor_id, window_start, window_end, count, min, max, mean)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::bigint[],
                     $5::float8[], $6::float8[], $7::float8[])
ON CONFLICT (sensor_id, window_start) DO UPDATE SET
    window_end = EXCLUDED.window_end, count = EXCLUDED.count, min = EXCLUDED.min,
    max = EXCLUDED.max, mean = EXCLUDED.mean
"""


def _last_by_key(rows: Iterable[Mapping[str, Any]], key: tuple[str, ...]) -> list[Any]:
    """One row per key, the last one: one upsert statement may not touch a row twice."""
    return list({tuple(r[k] for k in key): r for r in rows}.values())


class AggregateWriter:
    """Upserts the aggregator's results on one connection to ``schema``."""

    def __init__(self, settings: PostgresSettings, schema: str) -> None:
        self._settings, self._schema = settings, schema
        self._conn: asyncpg.Connection | None = None

    async def migrate(self) -> list[str]:
        """Apply the engagement and rollup migrations; returns the versions applied now."""
        conn = await self._connection()
        applied = await ENGAGEMENT_MIGRATIONS.apply(conn, self._schema)
        return applied + await ROLLUP_MIGRATIONS.apply(conn, self._schema)

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await connect(self._settings, self._schema)
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def write_engagement(self, updates: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
        """Upsert closed windows' counts and the scores after them (the values of
        ``engagement.scores``); returns (window rows, score rows)."""
        updates = list(updates)
        windows = [
            (u["entity_type"], u["entity_id"], u["window_start_ms"], u["window_end_ms"], kind, n)
            for u in updates
            for kind, n in sorted(u["counts"].items())
        ]
        windows = list({w[:3] + w[4:5]: w for w in windows}.values())
        scores = _last_by_key(updates, ("entity_type", "entity_id"))
        conn = await self._connection()
        async with conn.transaction():
            await conn.execute(
                UPSERT_WINDOWS,
                [w[0] for w in windows],
                [w[1] for w in windows],
                [from_epoch_ms(w[2]) for w in windows],
                [from_epoch_ms(w[3]) for w in windows],
                [w[4] for w in windows],
                [w[5] for w in windows],
            )
            await conn.execute(
                UPSERT_SCORES,
                [s["entity_type"] for s in scores],
                [s["entity_id"] for s in scores],
                [s["score"] for s in scores],
                [from_epoch_ms(s["as_of_ms"]) for s in scores],
                [s["half_life_s"] for s in scores],
                *([s["totals"].get(kind, 0) for s in scores] for kind in TOTAL_COLUMNS),
            )
        return len(windows), len(scores)

    async def write_rollups(self, rollups: Iterable[Mapping[str, Any]]) -> int:
        """Upsert closed windows' sensor rollups (the values of ``sensor.rollups``)."""
        rows = _last_by_key(rollups, ("sensor_id", "window_start_ms"))
        conn = await self._connection()
        await conn.execute(
            UPSERT_ROLLUPS,
            [r["sensor_id"] for r in rows],
            [from_epoch_ms(r["window_start_ms"]) for r in rows],
            [from_epoch_ms(r["window_end_ms"]) for r in rows],
            [r["count"] for r in rows],
            [r["min"] for r in rows],
            [r["max"] for r in rows],
            [r["mean"] for r in rows],
        )
        return len(rows)


class _WriterSink(BatchingSink):
    """A Quix sink running an :class:`AggregateWriter` on an event loop of its own (Quix sinks
    are synchronous; the loop lives as long as the sink)."""

    def __init__(self, writer: AggregateWriter, metrics: AggregatorMetrics, retry_after_s: float):
        super().__init__()
        self._writer, self._metrics, self._retry_after_s = writer, metrics, retry_after_s
        self._loop: asyncio.AbstractEventLoop | None = None

    def setup(self) -> None:
        self._loop = asyncio.new_event_loop()

    def close(self) -> None:
        if self._loop is not None:
            self._loop.run_until_complete(self._writer.close())
            self._loop.close()
            self._loop = None

    def write(self, batch: SinkBatch) -> None:
        if self._loop is None:
            self.setup()
        assert self._loop is not None
        values = [item.value for item in batch]
        try:
            self._loop.run_until_complete(self._write(values))
        except postgres.UNAVAILABLE as exc:
            log.warning(
                "PostgreSQL unavailable, the checkpoint will be replayed",
                extra={"error": repr(exc), "retry_after_s": self._retry_after_s},
            )
            self._loop.run_until_complete(self._drop_connection())
            raise SinkBackpressureError(retry_after=self._retry_after_s) from exc

    async def _drop_connection(self) -> None:
        try:
            await self._writer.close()
        except Exception:  # the connection is broken already: nothing to close cleanly
            log.debug("closing a broken connection failed", exc_info=True)

    async def _write(self, values: list[Any]) -> None:
        raise NotImplementedError


class EngagementSink(_WriterSink):
    """``engagement_windows`` and ``engagement_scores``."""

    async def _write(self, values: list[Any]) -> None:
        windows, scores = await self._writer.write_engagement(values)
        self._metrics.rows("engagement_windows", windows)
        self._metrics.rows("engagement_scores", scores)


class RollupSink(_WriterSink):
    """``sensor_rollups``."""

    async def _write(self, values: list[Any]) -> None:
        self._metrics.rows("sensor_rollups", await self._writer.write_rollups(values))
