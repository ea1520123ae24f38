"""PostgresSink: sensor readings into a daily-partitioned table, and the sensors they come from.

Each batch is one transaction. The readings go in with asyncpg's binary COPY, then the batch's
sensors are upserted (first/last seen widened, type/location/unit taken from the newest reading).

Idempotence: ``(event_id, event_time)`` is unique. A first delivery, by far the common case, is
COPYed straight into ``sensor_readings`` inside a savepoint; when that hits the unique key (a
redelivered batch, or one overlapping an earlier one after a crash) the savepoint is rolled back and
the batch goes through the slow, duplicate-proof path: COPY into a temporary staging table, then
``INSERT ... SELECT ... ON CONFLICT (event_id, event_time) DO NOTHING``. Measured on the local
stack the straight COPY runs at the raw COPY ceiling, the staging path at about 60% of it.

Partitions: daily, UTC, created on demand before a batch is inserted (the known ones are cached),
plus the next day ahead so midnight never waits on DDL. A DEFAULT partition catches the rest:
readings outside the window of ``partition_past_days``/``partition_future_days`` and days whose
creation failed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from polystream_common.schemas import SensorReading
from polystream_common.settings import PostgresSettings
from polystream_common.sink import Rejection, Sink, SinkRecord, TransientSinkError
from polystream_readmodels.sensors import SENSOR_MIGRATIONS

log = logging.getLogger(__name__)

ReadingRow = tuple[UUID, datetime, str, float]
READING_COLUMNS = ("event_id", "event_time", "sensor_id", "value")

# Reused per connection: ON COMMIT DELETE ROWS empties it, and unlike ON COMMIT DROP it does not
# churn the catalog on every batch (both measured alike in speed).
STAGING = """
CREATE TEMP TABLE IF NOT EXISTS staging_readings (
    event_id uuid, event_time timestamptz, sensor_id text, value double precision
) ON COMMIT DELETE ROWS
"""
MERGE_READINGS = """
INSERT INTO sensor_readings (event_id, event_time, sensor_id, value)
SELECT event_id, event_time, sensor_id, value FROM staging_readings
ON CONFLICT (event_id, event_time) DO NOTHING
"""
# A late, older reading widens first_seen but must not overwrite the sensor's current description.
UPSERT_SENSORS = """
INSERT INTO sensors AS s (sensor_id, sensor_type, location, unit, first_seen, last_seen)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::timestamptz[])
ON CONFLICT (sensor_id) DO UPDATE SET
    sensor_type = CASE WHEN EXCLUDED.last_seen >= s.last_seen
                       THEN EXCLUDED.sensor_type ELSE s.sensor_type END,
    location = CASE WHEN EXCLUDED.last_seen >= s.last_seen
                    THEN EXCLUDED.location ELSE s.location END,
    unit = CASE WHEN EXCLUDED.last_seen >= s.last_seen THEN EXCLUDED.unit ELSE s.unit END,
    first_seen = LEAST(s.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(s.last_seen, EXCLUDED.last_seen)
"""
PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'sensor_readings'::regclass
"""
PARTITION_NAME = re.compile(r"^sensor_readings_(\d{8})$")
# pg_advisory_xact_lock key serialising partition creation across replicas.
PARTITION_LOCK_ID = 0x5E4505
# CREATE TABLE ... PARTITION OF takes an ACCESS EXCLUSIVE lock on sensor_readings: queued behind
# a long analytics query it would stall every writer queued behind it. Give up instead; the loop
# retries the batch with backoff.
PARTITION_LOCK_TIMEOUT = "5s"


def refusal(reading: SensorReading) -> str | None:
    """Why PostgreSQL would refuse this reading for good, or None. Its text type cannot hold NUL,
    which valid JSON (``\\u0000``) and so a valid event can carry: such a reading would fail its
    whole batch on every retry."""
    if not ("\x00" in reading.sensor_id or "\x00" in reading.location or "\x00" in reading.unit):
        return None
    for field in ("sensor_id", "location", "unit"):
        if "\x00" in getattr(reading, field):
            return f"{field} contains a NUL character, which PostgreSQL text cannot store"
    return None


@dataclass(frozen=True)
class BatchRows:
    """What one batch writes, worked out in one pass over it (see :func:`batch_rows`)."""

    rows: list[ReadingRow]
    """sensor_readings rows in the order of ``READING_COLUMNS``, one per distinct event id (a
    batch may hold a record twice after a redelivery), times in UTC."""
    sensors: tuple[list[Any], ...]
    """Column arrays of ``UPSERT_SENSORS``: one entry per sensor with its first/last seen in the
    batch and its newest description. Sorted by sensor id: concurrent upserts then lock the rows
    in the same order and cannot deadlock."""
    days: set[date]
    """The UTC days the rows touch: each needs its partition before the insert."""
    refused: list[Rejection[SensorReading]]
    """Readings PostgreSQL can never store (see :func:`refusal`), for the DLQ."""


def batch_rows(batch: Iterable[SinkRecord[SensorReading]]) -> BatchRows:
    """Split a batch into :class:`BatchRows`. One pass, because this runs for every record the
    service consumes, between the COPYs: its cost is paid in throughput."""
    rows: dict[int, ReadingRow] = {}
    first: dict[str, datetime] = {}
    last: dict[str, tuple[datetime, SensorReading]] = {}
    refused: list[Rejection[SensorReading]] = []
    for record in batch:
        r = record.value
        if (reason := refusal(r)) is not None:
            refused.append(Rejection(record, "PostgresRefused", reason))
            continue
        # Decoded times each carry their own tzinfo object; on one shared UTC tzinfo, comparing
        # them, taking their date and asyncpg's encoding skip the per-call offset lookups.
        t = r.event_time.astimezone(UTC)
        sensor = r.sensor_id
        rows[r.event_id.int] = (r.event_id, t, sensor, r.value)
        if sensor not in first:
            first[sensor], last[sensor] = t, (t, r)
            continue
        if t < first[sensor]:
            first[sensor] = t
        if t >= last[sensor][0]:
            last[sensor] = (t, r)
    ids = sorted(first)
    newest = [last[s][1] for s in ids]
    sensors = (
        ids,
        [r.sensor_type for r in newest],
        [r.location for r in newest],
        [r.unit for r in newest],
        [first[s] for s in ids],
        [last[s][0] for s in ids],
    )
    days: set[date] = set()
    if ids:
        low, high = min(sensors[4]).date(), max(sensors[5]).date()
        days = {low} if low == high else partition_days(row[1] for row in rows.values())
    return BatchRows(list(rows.values()), sensors, days, refused)


def partition_days(times: Iterable[datetime]) -> set[date]:
    """The UTC days a batch touches: each needs its partition before the insert."""
    return {t.astimezone(UTC).date() for t in times}


def partition_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a day's partition: UTC midnight to the next."""
    start = datetime.combine(day, time(), UTC)
    return start, start + timedelta(days=1)


def partition_ddl(day: date) -> str:
    """CREATE TABLE for a day's partition; a no-op if it exists."""
    start, end = partition_bounds(day)
    return (
        f"CREATE TABLE IF NOT EXISTS sensor_readings_{day:%Y%m%d} PARTITION OF sensor_readings"
        f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def partitions_to_create(
    days: Iterable[date], known: set[date], today: date, past_days: int, future_days: int
) -> list[date]:
    """The days (plus each one's next, created ahead) still missing within the window
    [today - past_days, today + future_days]; days outside it go to the DEFAULT partition."""
    low, high = today - timedelta(days=past_days), today + timedelta(days=future_days)
    in_window = [d for d in days if low <= d <= high]
    wanted = {d + timedelta(days=k) for d in in_window for k in (0, 1)}
    return sorted(d for d in wanted - known if d <= high)


# SQLSTATEs, or their class prefixes, that say "not now" rather than "not these rows".
TRANSIENT_SQLSTATES = (
    "08",  # connection exception: refused, lost, rejected while the server starts
    "53",  # insufficient resources: too many connections, disk full, out of memory
    "57P01",  # admin_shutdown: a restart or failover
    "57P02",  # crash_shutdown: another backend crashed, the server restarts
    "57P03",  # cannot_connect_now: the server is starting up or in recovery
    "57P05",  # idle_session_timeout: the server dropped an idle pooled connection
    "57014",  # query_canceled: statement_timeout, or a cancel by an operator
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected: the other transaction won; ours rolled back whole
    "55P03",  # lock_not_available: the partition DDL's lock_timeout (see PARTITION_LOCK_TIMEOUT)
)
# asyncpg's InterfaceError covers misuse too (two operations on one connection is a bug); only
# these messages mean the connection or the pool went away under the batch.
CLOSED_MESSAGES = ("connection is closed", "pool is closed", "pool is closing")


def is_transient_postgres_error(exc: BaseException) -> bool:
    """True if ``exc`` means PostgreSQL cannot take the batch now, so the whole batch is retried.

    Transient: no route to the server (``OSError``, which includes ``ConnectionError``), a
    timeout (``TimeoutError``: connect, pool acquire, ``command_timeout``), a connection or pool
    closed under us, and the SQLSTATEs of :data:`TRANSIENT_SQLSTATES` (connection class 08,
    resources class 53, shutdown/restart 57P01-03 and 57P05, statement timeout 57014,
    serialization failure and deadlock, the lock timeout). Any other error is the data's or the
    code's: a value PostgreSQL refuses (``DataError``, a constraint) reproduces on every retry,
    so the loop bisects instead. ``57P04`` (the database was dropped) is deliberately not
    transient: no retry brings it back, and the loop's fatal stop says so loudly.
    """
    if isinstance(exc, OSError | TimeoutError | TransientSinkError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", None) or ""
        return sqlstate.startswith(TRANSIENT_SQLSTATES)
    if isinstance(exc, asyncpg.InterfaceError):
        message = str(exc)
        return any(closed in message for closed in CLOSED_MESSAGES)
    return False


class PostgresSink(Sink[SensorReading]):
    """Writes sensor readings and sensors to PostgreSQL; idempotent on (event_id, event_time).

    Errors propagate. Those :func:`is_transient_postgres_error` accepts (the server is down,
    overloaded, restarting, or the batch lost a lock race) make the loop retry the batch with
    backoff; any other (a value PostgreSQL refuses) makes it bisect the batch down to the failing
    records. Readings PostgreSQL can never store that :func:`refusal` foresees come back as
    rejections for the DLQ without that detour.
    """

    name = "postgres"

    def __init__(
        self,
        settings: PostgresSettings,
        *,
        schema: str = "public",
        partition_past_days: int = 400,
        partition_future_days: int = 7,
    ) -> None:
        self._settings = settings
        self._schema = schema
        self._past_days = partition_past_days
        self._future_days = partition_future_days
        self._pool: asyncpg.Pool | None = None
        self._known_days: set[date] = set()

    async def setup(self) -> None:
        """Open the pool, apply the migrations, learn the existing partitions and create
        today's and tomorrow's."""
        pool = await asyncpg.create_pool(
            **self._settings.connect_kwargs(),
            min_size=self._settings.pool_min_size,
            max_size=self._settings.pool_max_size,
            server_settings={"search_path": f'"{self._schema}"'},
        )
        try:
            async with pool.acquire() as conn:
                await SENSOR_MIGRATIONS.apply(conn, self._schema)
                for row in await conn.fetch(PARTITIONS):
                    if match := PARTITION_NAME.match(row["relname"]):
                        self._known_days.add(datetime.strptime(match[1], "%Y%m%d").date())
                await self._ensure_partitions(conn, {datetime.now(UTC).date()})
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        """The connection pool (also fit for :mod:`polystream_readmodels.sensors`)."""
        if self._pool is None:
            raise RuntimeError("PostgresSink.setup() was not called")
        return self._pool

    async def write(
        self, batch: Sequence[SinkRecord[SensorReading]]
    ) -> Sequence[Rejection[SensorReading]]:
        prepared = batch_rows(batch)
        if not prepared.rows:
            return prepared.refused
        async with self.pool.acquire() as conn:
            await self._ensure_partitions(conn, prepared.days)
            async with conn.transaction():
                if not await self._copy_first_delivery(conn, prepared.rows):
                    await self._merge(conn, prepared.rows)
                await conn.execute(UPSERT_SENSORS, *prepared.sensors)
        return prepared.refused

    def is_transient(self, exc: BaseException) -> bool:
        return is_transient_postgres_error(exc)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @staticmethod
    async def _copy_first_delivery(conn: asyncpg.Connection, rows: list[ReadingRow]) -> bool:
        """COPY straight into sensor_readings; False (and nothing written) if any row is there."""
        try:
            async with conn.transaction():  # a savepoint inside the batch's transaction
                await conn.copy_records_to_table(
                    "sensor_readings", records=rows, columns=READING_COLUMNS
                )
        except asyncpg.UniqueViolationError:
            log.info("batch already written in part, merging", extra={"rows": len(rows)})
            return False
        return True

    @staticmethod
    async def _merge(conn: asyncpg.Connection, rows: list[ReadingRow]) -> None:
        await conn.execute(STAGING)
        await conn.copy_records_to_table("staging_readings", records=rows, columns=READING_COLUMNS)
        await conn.execute(MERGE_READINGS)

    async def _ensure_partitions(self, conn: asyncpg.Connection, days: set[date]) -> None:
        missing = partitions_to_create(
            days, self._known_days, datetime.now(UTC).date(), self._past_days, self._future_days
        )
        if not missing:
            return
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", PARTITION_LOCK_ID)
            await conn.execute(f"SET LOCAL lock_timeout = '{PARTITION_LOCK_TIMEOUT}'")
            for day in missing:
                try:
                    async with conn.transaction():
                        await conn.execute(partition_ddl(day))
                except asyncpg.CheckViolationError:
                    # The DEFAULT partition already holds rows of that day: they stay there, and
                    # so will the day's next rows.
                    log.warning("a day stays in the default partition", extra={"day": str(day)})
        self._known_days.update(missing)
        log.info("partitions ensured", extra={"days": [str(d) for d in missing]})
