"""The analytics routes (``/analytics``): sensor statistics, moving averages, anomalies and rollups
from PostgreSQL, behaviour aggregations from MongoDB, and the engagement leaderboard. Every query
is the shared read models' (:mod:`polystream_readmodels`); this module only validates, caches and
shapes.

- **Who and how often.** Every route wants the API key when one is configured and counts against
  the client's analytics rate limit (:mod:`recsys_api.security`).
- **Input.** Time ranges are half-open ``[since, until)``; a time without a zone is UTC, one with
  a zone is converted to UTC. ``since`` must be before ``until`` and the range at most
  :data:`MAX_RANGE` (:data:`MAX_SERIES_RANGE` for the routes that return one row per reading);
  limits are 1..100 and ids match :data:`ID_PATTERN`. Anything else is a 422 with a message.
- **Caching.** Every answer is read through the look-aside cache, kind ``analytics``, keyed by the
  route and its normalised parameters: a repeated question within the kind's TTL (30 s by
  default) costs one Redis read. The leaderboard is decayed to the time of its computation, which
  it reports (``as_of``), so a cached one is at most one TTL old.
- **Stores down** give a 503 naming the store (:mod:`recsys_api.errors`), never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase

from polystream_readmodels import behaviour, engagement, rollups, sensors
from recsys_api.cache import LookAsideCache
from recsys_api.deps import CacheDep, Resources, ResourcesDep
from recsys_api.errors import ApiError, StoreUnavailable, invalid_parameters, store_errors
from recsys_api.security import AnalyticsLimitDep, ApiKeyDep

ANALYTICS: Final = "analytics"
MAX_RANGE: Final = timedelta(days=31)
MAX_SERIES_RANGE: Final = timedelta(days=7)
"""Moving averages and rollups return a row per reading or window: a shorter range bounds them."""
MAX_LIMIT: Final = 100
ID_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,128}$"

M = TypeVar("M", bound=BaseModel)

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ApiError, "description": description}
    for code, description in (
        (status.HTTP_401_UNAUTHORIZED, "API key missing or wrong"),
        (status.HTTP_429_TOO_MANY_REQUESTS, "rate limit exceeded; see Retry-After"),
        (status.HTTP_503_SERVICE_UNAVAILABLE, "a store the answer needs is unavailable"),
    )
}

router = APIRouter(
    prefix="/analytics",
    tags=["analytics"],
    dependencies=[ApiKeyDep, AnalyticsLimitDep],
    responses=_ERRORS,
)


# --- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A validated ``[since, until)`` in UTC."""

    since: datetime
    until: datetime


def _utc(name: str, value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # year 1 with a positive offset, 9999 with a negative one
        raise _unprocessable(f"{name} is out of range once converted to UTC") from exc


def _unprocessable(detail: str) -> RequestValidationError:
    return invalid_parameters(detail, "query")


def time_range(max_span: timedelta) -> Callable[[datetime, datetime], TimeRange]:
    """A dependency reading and checking ``since`` and ``until`` (at most ``max_span`` apart)."""

    def dependency(
        since: Annotated[
            datetime, Query(description="start, inclusive (ISO 8601; no zone means UTC)")
        ],
        until: Annotated[
            datetime, Query(description="end, exclusive (ISO 8601; no zone means UTC)")
        ],
    ) -> TimeRange:
        start, end = _utc("since", since), _utc("until", until)
        if start >= end:
            raise _unprocessable("since must be before until")
        if end - start > max_span:
            raise _unprocessable(f"the range is longer than {max_span.days} days: narrow it")
        return TimeRange(start, end)

    return dependency


RangeDep = Annotated[TimeRange, Depends(time_range(MAX_RANGE))]
SeriesRangeDep = Annotated[TimeRange, Depends(time_range(MAX_SERIES_RANGE))]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="how many rows, at most")]
SensorIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="the sensor")]
SensorIdFilter = Annotated[
    str | None, Query(pattern=ID_PATTERN, description="only this sensor (default: every sensor)")
]


# Checked in the route, after its parameters: bad input is a 422 even in an app without the store.
def _postgres(resources: Resources) -> asyncpg.Pool:
    if resources.postgres is None:
        raise StoreUnavailable("postgres", "not configured in this app")
    return resources.postgres


def _mongo(resources: Resources) -> AsyncDatabase[dict[str, Any]]:
    if resources.mongo is None:
        raise StoreUnavailable("mongodb", "not configured in this app")
    return resources.mongo


async def _cached(
    cache: LookAsideCache, model: type[M], key: list[Any], compute: Callable[[], Awaitable[M]]
) -> M:
    """``compute()``'s answer through the cache, under the route's name and its parameters."""
    raw_key = json.dumps(key, separators=(",", ":"), default=_key_part)
    return await cache.get_or_compute(
        ANALYTICS,
        raw_key,
        compute,
        encode=model.model_dump_json,
        decode=model.model_validate_json,
    )


def _key_part(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not a cache key part: {value!r}")


# --- responses ----------------------------------------------------------------------------------


class _FromReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RangeResponse(BaseModel):
    since: datetime = Field(description="start of the range, inclusive, UTC")
    until: datetime = Field(description="end of the range, exclusive, UTC")


class SensorStatsItem(_FromReadModel):
    sensor_id: str
    readings: int
    min: float
    max: float
    mean: float
    stddev: float | None = Field(description="sample standard deviation; null for one reading")
    p95: float = Field(description="95th percentile, interpolated")


class SensorStatsResponse(RangeResponse):
    sensors: list[SensorStatsItem] = Field(description="by sensor id; sensors without readings")


class MovingAveragePoint(_FromReadModel):
    event_time: datetime
    value: float
    moving_avg: float = Field(description="mean of the window ending at this reading, itself in")
    samples: int = Field(description="readings in that window")


class MovingAverageResponse(RangeResponse):
    sensor_id: str
    window: int | None = Field(description="readings per window (null with interval_s)")
    interval_s: float | None = Field(description="window length in seconds, if by time")
    points: list[MovingAveragePoint] = Field(description="one per reading of the range, in order")


class AnomalyItem(_FromReadModel):
    sensor_id: str
    event_time: datetime
    value: float
    baseline: float = Field(description="mean of the readings before it, in the window")
    spread: float = Field(description="their sample standard deviation")
    z_score: float = Field(description="(value - baseline) / spread")


class AnomaliesResponse(RangeResponse):
    window: int
    threshold: float
    anomalies: list[AnomalyItem] = Field(description="by sensor, then time")


class RollupItem(_FromReadModel):
    sensor_id: str
    window_start: datetime
    window_end: datetime
    count: int
    min: float
    max: float
    mean: float


class RollupsResponse(RangeResponse):
    rollups: list[RollupItem] = Field(description="closed windows starting in the range")


class EventsPerDay(BaseModel):
    day: str = Field(description="UTC calendar day, YYYY-MM-DD")
    event_type: str
    events: int


class EventsPerDayResponse(RangeResponse):
    rows: list[EventsPerDay] = Field(description="by day, then event type")


class FunnelRow(BaseModel):
    day: str | None = Field(default=None, description="UTC day (by=day)")
    campaign_id: str | None = Field(default=None, description="the campaign (by=campaign)")
    views: int
    clicks: int
    add_to_cart: int
    purchases: int
    click_rate: float | None = Field(description="clicks / views; null without views")
    cart_rate: float | None = Field(description="add_to_cart / clicks")
    purchase_rate: float | None = Field(description="purchases / add_to_cart")
    conversion_rate: float | None = Field(description="purchases / views")
    revenue: float = Field(description="sum of price * quantity over the purchases")


class FunnelResponse(RangeResponse):
    by: Literal["day", "campaign"]
    rows: list[FunnelRow]


class TopProduct(BaseModel):
    product_id: str
    interactions: int = Field(description="events naming the product")
    views: int
    clicks: int
    add_to_cart: int
    purchases: int


class TopProductsResponse(RangeResponse):
    products: list[TopProduct] = Field(description="most interactions first; ties by id")


class LeaderboardEntry(_FromReadModel):
    entity_id: str
    score: float = Field(description="engagement score decayed to as_of")
    views: int
    clicks: int
    add_to_carts: int
    purchases: int
    campaign_views: int
    campaign_clicks: int


class LeaderboardResponse(BaseModel):
    kind: Literal["product", "campaign"]
    as_of: datetime = Field(description="the instant every score is decayed to")
    entries: list[LeaderboardEntry] = Field(description="highest score first; ties by id")


# --- PostgreSQL ---------------------------------------------------------------------------------


@router.get("/sensors/stats", response_model=SensorStatsResponse)
async def sensor_stats(
    resources: ResourcesDep, cache: CacheDep, span: RangeDep, sensor_id: SensorIdFilter = None
) -> SensorStatsResponse:
    """Count, min, max, mean, standard deviation and p95 of each sensor's readings in the range
    (or of one sensor's)."""

    pool = _postgres(resources)

    async def compute() -> SensorStatsResponse:
        with store_errors("postgres"):
            found = await sensors.sensor_stats(pool, span.since, span.until, sensor_id)
        return SensorStatsResponse(
            since=span.since,
            until=span.until,
            sensors=[SensorStatsItem.model_validate(s) for s in found],
        )

    key = ["sensor_stats", span.since, span.until, sensor_id]
    return await _cached(cache, SensorStatsResponse, key, compute)


@router.get("/sensors/{sensor_id}/moving-average", response_model=MovingAverageResponse)
async def sensor_moving_average(
    resources: ResourcesDep,
    cache: CacheDep,
    sensor_id: SensorIdPath,
    span: SeriesRangeDep,
    window: Annotated[
        int, Query(ge=1, le=1000, description="readings per window (ignored with interval_s)")
    ] = 10,
    interval_s: Annotated[
        float | None,
        Query(gt=0, le=86_400, description="average over this many seconds instead"),
    ] = None,
) -> MovingAverageResponse:
    """Each reading of one sensor in the range with the mean of the window ending at it: its
    last ``window`` readings, or those of the last ``interval_s`` seconds. Windows reach back
    before ``since``."""

    pool = _postgres(resources)

    async def compute() -> MovingAverageResponse:
        with store_errors("postgres"):
            found = await sensors.moving_average(
                pool,
                sensor_id,
                span.since,
                span.until,
                window=window,
                interval=None if interval_s is None else timedelta(seconds=interval_s),
            )
        return MovingAverageResponse(
            since=span.since,
            until=span.until,
            sensor_id=sensor_id,
            window=None if interval_s is not None else window,
            interval_s=interval_s,
            points=[MovingAveragePoint.model_validate(m) for m in found],
        )

    key = ["moving_average", sensor_id, span.since, span.until, window, interval_s]
    if interval_s is not None:
        key[4] = None  # the window is ignored: one cache entry whatever it says
    return await _cached(cache, MovingAverageResponse, key, compute)


@router.get("/sensors/anomalies", response_model=AnomaliesResponse)
async def sensor_anomalies(
    resources: ResourcesDep,
    cache: CacheDep,
    span: RangeDep,
    sensor_id: SensorIdFilter = None,
    window: Annotated[
        int, Query(ge=2, le=1000, description="readings before each one it is scored against")
    ] = 50,
    threshold: Annotated[
        float, Query(gt=0, le=100, description="flag readings with |z-score| at least this")
    ] = 3.0,
    min_samples: Annotated[
        int | None,
        Query(ge=2, le=1000, description="score once this many precede (default: window)"),
    ] = None,
) -> AnomaliesResponse:
    """Readings whose z-score against the sensor's preceding ``window`` readings reaches
    ``threshold``: spikes and drops."""
    if min_samples is not None and min_samples > window:
        raise _unprocessable("min_samples must not exceed window")

    pool = _postgres(resources)

    async def compute() -> AnomaliesResponse:
        with store_errors("postgres"):
            found = await sensors.anomalies(
                pool,
                span.since,
                span.until,
                sensor_id=sensor_id,
                window=window,
                threshold=threshold,
                min_samples=min_samples,
            )
        return AnomaliesResponse(
            since=span.since,
            until=span.until,
            window=window,
            threshold=threshold,
            anomalies=[AnomalyItem.model_validate(a) for a in found],
        )

    key = ["anomalies", span.since, span.until, sensor_id, window, threshold, min_samples]
    return await _cached(cache, AnomaliesResponse, key, compute)


@router.get("/sensors/rollups", response_model=RollupsResponse)
async def sensor_rollups(
    resources: ResourcesDep, cache: CacheDep, span: SeriesRangeDep, sensor_id: SensorIdFilter = None
) -> RollupsResponse:
    """Count, min, max and mean per sensor and closed window (the aggregator's rollups), for
    dashboards: no scan of the readings."""

    pool = _postgres(resources)

    async def compute() -> RollupsResponse:
        with store_errors("postgres"):
            found = await rollups.sensor_rollups(pool, span.since, span.until, sensor_id)
        return RollupsResponse(
            since=span.since,
            until=span.until,
            rollups=[RollupItem.model_validate(r) for r in found],
        )

    key = ["rollups", span.since, span.until, sensor_id]
    return await _cached(cache, RollupsResponse, key, compute)


@router.get("/engagement/leaderboard", response_model=LeaderboardResponse)
async def engagement_leaderboard(
    resources: ResourcesDep,
    cache: CacheDep,
    kind: Annotated[
        Literal["product", "campaign"], Query(description="rank products or campaigns")
    ] = "product",
    limit: Limit = 10,
) -> LeaderboardResponse:
    """The products (or campaigns) with the highest engagement score, every score decayed to the
    same instant (``as_of``) so that they compare."""

    pool = _postgres(resources)

    async def compute() -> LeaderboardResponse:
        now = datetime.now(UTC)
        with store_errors("postgres"):
            found = await engagement.top_entities(pool, kind, now, limit)
        return LeaderboardResponse(
            kind=kind, as_of=now, entries=[LeaderboardEntry.model_validate(e) for e in found]
        )

    return await _cached(cache, LeaderboardResponse, ["leaderboard", kind, limit], compute)


# --- MongoDB ------------------------------------------------------------------------------------


@router.get("/events/daily", response_model=EventsPerDayResponse)
async def events_per_day(
    resources: ResourcesDep, cache: CacheDep, span: RangeDep
) -> EventsPerDayResponse:
    """The number of user events of each type on each UTC day of the range."""

    db = _mongo(resources)

    async def compute() -> EventsPerDayResponse:
        with store_errors("mongodb"):
            rows = await behaviour.events_per_type_per_day(db, span.since, span.until)
        return EventsPerDayResponse(
            since=span.since, until=span.until, rows=[EventsPerDay.model_validate(r) for r in rows]
        )

    key = ["events_per_day", span.since, span.until]
    return await _cached(cache, EventsPerDayResponse, key, compute)


@router.get("/funnel", response_model=FunnelResponse)
async def funnel(
    resources: ResourcesDep,
    cache: CacheDep,
    span: RangeDep,
    by: Annotated[
        Literal["day", "campaign"],
        Query(description="one row per UTC day, or per campaign (events without one left out)"),
    ] = "day",
) -> FunnelResponse:
    """The view -> click -> add_to_cart -> purchase funnel: each step's count, its conversion
    from the step before, overall conversion and revenue."""

    db = _mongo(resources)

    async def compute() -> FunnelResponse:
        with store_errors("mongodb"):
            rows = await behaviour.conversion_funnel(db, span.since, span.until, by)
        return FunnelResponse(
            since=span.since,
            until=span.until,
            by=by,
            rows=[FunnelRow.model_validate(r) for r in rows],
        )

    return await _cached(cache, FunnelResponse, ["funnel", span.since, span.until, by], compute)


@router.get("/products/top", response_model=TopProductsResponse)
async def top_products(
    resources: ResourcesDep, cache: CacheDep, span: RangeDep, limit: Limit = 10
) -> TopProductsResponse:
    """The products with the most interactions in the range, with their count per funnel step."""

    db = _mongo(resources)

    async def compute() -> TopProductsResponse:
        with store_errors("mongodb"):
            rows = await behaviour.top_products(db, span.since, span.until, limit)
        return TopProductsResponse(
            since=span.since,
            until=span.until,
            products=[TopProduct.model_validate(r) for r in rows],
        )

    key = ["top_products", span.since, span.until, limit]
    return await _cached(cache, TopProductsResponse, key, compute)
