"""recsys-api's analytics routes over HTTP against the real PostgreSQL, MongoDB and Redis of the
local stack: a known data set in a schema and a database of each test's own (the read models'
migrations, then rows), the app opening its own clients in its lifespan, and exact numbers in
the responses. Also: a second call is served from Redis (a key prefix of the test's own), the
API key and the rate limit refuse (401, 429), and a store that is down or not migrated is a 503.
"""

from __future__ import annotations

import socket
import statistics
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from polystream_common.settings import MongoSettings, PostgresSettings, RedisSettings
from polystream_embeddings.settings import EmbeddingSettings
from polystream_embeddings.testing import HashingEncoder
from polystream_readmodels.collections import USER_EVENTS_COLLECTION
from polystream_readmodels.engagement import ENGAGEMENT_MIGRATIONS
from polystream_readmodels.rollups import ROLLUP_MIGRATIONS
from polystream_readmodels.sensors import SENSOR_MIGRATIONS
from polystream_vectors.testing import InMemoryVectorStore
from recsys_api.app import create_app
from recsys_api.cache import CacheSettings
from recsys_api.settings import RateLimitSettings, RecsysApiSettings
from recsys_api.testing import InMemoryGraph

pytestmark = pytest.mark.integration

KEY = "integration-analytics-key"
AUTH = {"X-API-Key": KEY}
DIM = 16

# --- the sensor data set (as tests/integration/test_postgres_analytics.py's) ---------------------
T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
UNTIL = T0 + timedelta(days=1)
MINUTE = timedelta(minutes=1)
SENSOR_RANGE = {"since": T0.isoformat(), "until": UNTIL.isoformat()}
# "ramp": 1..10 every 10 minutes from T0, after one outlier 1000 at T0 - 10 min (out of range).
RAMP = [float(v) for v in range(1, 11)]
# "pair": 5 and 7. "spiky": 60 readings alternating 10/12 every minute, with two spikes.
SPIKES = {25: 40.0, 45: -20.0}
SPIKY = [SPIKES.get(i, 10.0 if i % 2 == 0 else 12.0) for i in range(60)]
READINGS = [
    ("ramp", T0 - 10 * MINUTE, 1000.0),
    *(("ramp", T0 + 10 * i * MINUTE, v) for i, v in enumerate(RAMP)),
    ("pair", T0, 5.0),
    ("pair", T0 + MINUTE, 7.0),
    *(("spiky", T0 + i * MINUTE, v) for i, v in enumerate(SPIKY)),
]
# (sensor, window start, count, min, max, mean) of one-minute rollups
ROLLUPS = [
    ("pair", T0, 1, 5.0, 5.0, 5.0),
    ("pair", T0 + MINUTE, 1, 7.0, 7.0, 7.0),
    ("ramp", T0 - 10 * MINUTE, 1, 1000.0, 1000.0, 1000.0),  # before the range
    ("ramp", T0, 1, 1.0, 1.0, 1.0),
]

# --- the behaviour data set ----------------------------------------------------------------------
D1 = datetime(2026, 3, 1, tzinfo=UTC)
D2, D3 = D1 + timedelta(days=1), D1 + timedelta(days=2)
EVENT_RANGE = {"since": D1.isoformat(), "until": D3.isoformat()}
H = timedelta(hours=1)
# (at, user, event_type, product, campaign, price, quantity)
EVENTS: list[tuple[datetime, str, str, str | None, str | None, float | None, int | None]] = [
    (D1 + 10 * H, "u1", "view", "p1", "camp-A", None, None),
    (D1 + 10 * H + MINUTE, "u1", "click", "p1", "camp-A", None, None),
    (D1 + 10 * H + 2 * MINUTE, "u1", "add_to_cart", "p1", "camp-A", None, None),
    (D1 + 10 * H + 3 * MINUTE, "u1", "purchase", "p1", "camp-A", 10.0, 2),
    (D1 + 11 * H, "u2", "view", "p2", None, None, None),
    (D1 + 11 * H + 5 * MINUTE, "u2", "view", "p1", None, None, None),
    (D1 + 11 * H + 6 * MINUTE, "u2", "click", "p2", None, None, None),
    (D2, "u3", "campaign_click", None, "camp-B", None, None),
    (D2 + MINUTE, "u3", "view", "p3", "camp-B", None, None),
    (D2 + 2 * MINUTE, "u3", "view", "p2", "camp-B", None, None),
    (D2 + 3 * MINUTE, "u3", "click", "p3", "camp-B", None, None),
    (D2 + 4 * MINUTE, "u3", "add_to_cart", "p3", "camp-B", None, None),
    (D2 + 5 * MINUTE, "u3", "purchase", "p3", "camp-B", 2.5, 3),
    (D3, "u1", "view", "p1", None, None, None),  # outside [D1, D3)
]

# --- the engagement data set: raw scores rank a > b > c, decayed to now c > a > b ------------
HALF_LIFE_S = 3600.0
# (kind, id, score, age of as_of in half-lives, views, purchases)
SCORES = [
    ("product", "p-a", 100.0, 2, 10, 1),  # 25 now
    ("product", "p-b", 40.0, 1, 4, 0),  # 20 now
    ("product", "p-c", 30.0, 0, 3, 2),  # 30 now
    ("campaign", "c-1", 5.0, 0, 0, 0),
]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def cache_hits() -> float:
    return sample(
        "polystream_cache_requests_total", service="recsys-api", kind="analytics", result="hit"
    )


@pytest.fixture
async def seeded_schema(settings: PostgresSettings, schema: str) -> AsyncIterator[str]:
    """``schema`` migrated by the three read models and holding the sensor and engagement
    data sets."""
    conn = await asyncpg.connect(
        **settings.connect_kwargs(), server_settings={"search_path": f'"{schema}"'}
    )
    try:
        for migrations in (SENSOR_MIGRATIONS, ROLLUP_MIGRATIONS, ENGAGEMENT_MIGRATIONS):
            await migrations.apply(conn, schema)
        await conn.executemany(
            "INSERT INTO sensors VALUES ($1, 'temperature', 'lab', 'celsius', $2, $2)",
            [(sensor, T0) for sensor in ("pair", "ramp", "spiky")],
        )
        await conn.executemany(
            "INSERT INTO sensor_readings (event_id, event_time, sensor_id, value)"
            " VALUES ($1, $2, $3, $4)",
            [(uuid.uuid4(), at, sensor, value) for sensor, at, value in READINGS],
        )
        await conn.executemany(
            "INSERT INTO sensor_rollups VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(s, start, start + MINUTE, *rest) for s, start, *rest in ROLLUPS],
        )
        now = datetime.now(UTC)
        await conn.executemany(
            "INSERT INTO engagement_scores (entity_type, entity_id, score, as_of, half_life_s,"
            " views, purchases) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                (kind, id_, score, now - timedelta(seconds=age * HALF_LIFE_S), HALF_LIFE_S, v, p)
                for kind, id_, score, age, v, p in SCORES
            ],
        )
    finally:
        await conn.close()
    yield schema


@pytest.fixture
async def mongo_settings(mongo_url: str) -> AsyncIterator[MongoSettings]:
    """A database of the test's own holding the behaviour data set."""
    database = f"test_recsys_analytics_{uuid.uuid4().hex[:12]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        await client[database][USER_EVENTS_COLLECTION.name].insert_many(
            [
                {
                    "_id": f"e{i}",
                    "event_time": at,
                    "user_id": user,
                    "event_type": event_type,
                    "product_id": product,
                    "campaign_id": campaign,
                    "price": price,
                    "quantity": quantity,
                }
                for i, (at, user, event_type, product, campaign, price, quantity) in enumerate(
                    EVENTS
                )
            ]
        )
        yield MongoSettings(url=SecretStr(mongo_url), database=database)
    finally:
        await client.drop_database(database)
        await client.close()


@pytest.fixture
def redis_url(stack: dict[str, str]) -> Iterator[str]:
    yield f"redis://127.0.0.1:{stack['REDIS_PORT']}/0"


@pytest.fixture
def cache_settings(redis_url: str) -> Iterator[CacheSettings]:
    """A key prefix of the test's own; its keys are deleted after."""
    cache = CacheSettings(key_prefix=f"test-analytics-{uuid.uuid4().hex[:12]}")
    yield cache
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{cache.key_prefix}:*"):
            client.delete(key)
    finally:
        client.close()


def app_settings(
    postgres: PostgresSettings,
    schema: str,
    mongo: MongoSettings,
    redis_url: str,
    cache: CacheSettings,
    **changes: Any,
) -> RecsysApiSettings:
    values: dict[str, Any] = {
        "embedding": EmbeddingSettings(dimension=DIM),
        "postgres": postgres,
        "postgres_schema": schema,
        "mongo": mongo,
        "mongo_timeout_ms": 2000,
        "redis": RedisSettings(url=SecretStr(redis_url)),
        "cache": cache,
        "invalidations": False,
        "api_key": SecretStr(KEY),
        "rate_limit": RateLimitSettings(default="1000/minute", analytics="1000/minute"),
    }
    return RecsysApiSettings(**(values | changes))


def serve(config: RecsysApiSettings) -> TestClient:
    """The app with its PostgreSQL pool and MongoDB client opened from ``config`` by its own
    lifespan; the vector and graph ports (not read by analytics) are in-memory."""
    app = create_app(
        config, encoder=HashingEncoder(DIM), store=InMemoryVectorStore(), graph=InMemoryGraph()
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def config(
    settings: PostgresSettings,
    seeded_schema: str,
    mongo_settings: MongoSettings,
    redis_url: str,
    cache_settings: CacheSettings,
) -> RecsysApiSettings:
    return app_settings(settings, seeded_schema, mongo_settings, redis_url, cache_settings)


@pytest.fixture
def client(config: RecsysApiSettings) -> Iterator[TestClient]:
    with serve(config) as client:
        yield client


def ok(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- PostgreSQL ----------------------------------------------------------------------------------


def test_sensor_stats(client: TestClient) -> None:
    body = ok(client, "/analytics/sensors/stats", **SENSOR_RANGE)
    assert (at(body["since"]), at(body["until"])) == (T0, UNTIL)
    stats = {s["sensor_id"]: s for s in body["sensors"]}
    assert list(stats) == ["pair", "ramp", "spiky"]
    ramp, pair, spiky = stats["ramp"], stats["pair"], stats["spiky"]
    # The 1000 before T0 is out of range.
    assert (ramp["readings"], ramp["min"], ramp["max"]) == (10, 1.0, 10.0)
    assert ramp["mean"] == pytest.approx(5.5)
    assert ramp["stddev"] == pytest.approx(3.0276503540974917)
    assert ramp["p95"] == pytest.approx(9.55)
    assert (pair["readings"], pair["mean"], pair["p95"]) == (2, 6.0, pytest.approx(6.9))
    assert pair["stddev"] == pytest.approx(2**0.5)
    assert (spiky["readings"], spiky["min"], spiky["max"]) == (60, -20.0, 40.0)
    assert spiky["stddev"] == pytest.approx(statistics.stdev(SPIKY))

    one = ok(client, "/analytics/sensors/stats", sensor_id="ramp", **SENSOR_RANGE)
    assert [(s["sensor_id"], s["readings"]) for s in one["sensors"]] == [("ramp", 10)]


def test_a_naive_range_is_utc_and_an_offset_is_converted(client: TestClient) -> None:
    # T0 + 25 min as 09:25+01:00, T0 as a time without a zone: ramp's readings at 0, 10, 20 min.
    body = ok(
        client,
        "/analytics/sensors/stats",
        sensor_id="ramp",
        since="2026-03-01T08:00:00",
        until="2026-03-01T09:25:00+01:00",
    )
    assert at(body["until"]) == T0 + 25 * MINUTE
    assert [(s["readings"], s["max"], s["mean"]) for s in body["sensors"]] == [(3, 3.0, 2.0)]


def test_moving_average(client: TestClient) -> None:
    body = ok(client, "/analytics/sensors/ramp/moving-average", window=3, **SENSOR_RANGE)
    assert (body["sensor_id"], body["window"], body["interval_s"]) == ("ramp", 3, None)
    points = body["points"]
    assert [p["value"] for p in points] == RAMP
    # The window reaches back before the range: the 1000 at T0 - 10 min counts for the first two.
    assert [p["moving_avg"] for p in points] == pytest.approx(
        [500.5, 1003 / 3, 2, 3, 4, 5, 6, 7, 8, 9]
    )
    assert [p["samples"] for p in points] == [2] + [3] * 9
    by_time = ok(client, "/analytics/sensors/ramp/moving-average", interval_s=900, **SENSOR_RANGE)
    assert by_time["window"] is None
    assert [p["moving_avg"] for p in by_time["points"]] == pytest.approx(
        [500.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]
    )


def test_anomalies_flag_exactly_the_spikes(client: TestClient) -> None:
    body = ok(client, "/analytics/sensors/anomalies", window=10, threshold=3, **SENSOR_RANGE)
    found = body["anomalies"]
    assert [(a["sensor_id"], at(a["event_time"]), a["value"]) for a in found] == [
        ("spiky", T0 + i * MINUTE, v) for i, v in SPIKES.items()
    ]
    assert found[0]["z_score"] == pytest.approx(29 / (10 / 9) ** 0.5)
    assert [a["baseline"] for a in found] == pytest.approx([11.0, 11.0])
    quiet = ok(client, "/analytics/sensors/anomalies", window=10, threshold=30, **SENSOR_RANGE)
    assert quiet["anomalies"] == []
    ramp = ok(client, "/analytics/sensors/anomalies", sensor_id="ramp", window=5, **SENSOR_RANGE)
    assert ramp["anomalies"] == []


def test_rollups(client: TestClient) -> None:
    body = ok(client, "/analytics/sensors/rollups", **SENSOR_RANGE)
    assert [
        (r["sensor_id"], at(r["window_start"]), at(r["window_end"]), r["count"], r["mean"])
        for r in body["rollups"]
    ] == [
        ("pair", T0, T0 + MINUTE, 1, 5.0),
        ("pair", T0 + MINUTE, T0 + 2 * MINUTE, 1, 7.0),
        ("ramp", T0, T0 + MINUTE, 1, 1.0),
    ]


def test_the_leaderboard_ranks_by_the_score_decayed_to_now(client: TestClient) -> None:
    body = ok(client, "/analytics/engagement/leaderboard", kind="product", limit=10)
    assert body["kind"] == "product"
    entries = body["entries"]
    # Raw scores rank p-a > p-b > p-c; decayed to now, p-c (30) > p-a (25) > p-b (20).
    assert [e["entity_id"] for e in entries] == ["p-c", "p-a", "p-b"]
    assert [e["score"] for e in entries] == pytest.approx([30.0, 25.0, 20.0], rel=1e-3)
    assert [(e["views"], e["purchases"]) for e in entries] == [(3, 2), (10, 1), (4, 0)]
    assert abs(at(body["as_of"]) - datetime.now(UTC)) < timedelta(minutes=1)
    top = ok(client, "/analytics/engagement/leaderboard", kind="product", limit=2)
    assert [e["entity_id"] for e in top["entries"]] == ["p-c", "p-a"]
    campaigns = ok(client, "/analytics/engagement/leaderboard", kind="campaign")
    assert [e["entity_id"] for e in campaigns["entries"]] == ["c-1"]


# --- MongoDB -------------------------------------------------------------------------------------


def test_events_per_type_per_day(client: TestClient) -> None:
    body = ok(client, "/analytics/events/daily", **EVENT_RANGE)
    assert [(r["day"], r["event_type"], r["events"]) for r in body["rows"]] == [
        ("2026-03-01", "add_to_cart", 1),
        ("2026-03-01", "click", 2),
        ("2026-03-01", "purchase", 1),
        ("2026-03-01", "view", 3),
        ("2026-03-02", "add_to_cart", 1),
        ("2026-03-02", "campaign_click", 1),
        ("2026-03-02", "click", 1),
        ("2026-03-02", "purchase", 1),
        ("2026-03-02", "view", 2),
    ]


def test_funnel_by_day_and_by_campaign(client: TestClient) -> None:
    by_day = ok(client, "/analytics/funnel", by="day", **EVENT_RANGE)
    assert by_day["by"] == "day"
    assert by_day["rows"] == [
        {
            "day": "2026-03-01",
            "campaign_id": None,
            "views": 3,
            "clicks": 2,
            "add_to_cart": 1,
            "purchases": 1,
            "click_rate": pytest.approx(2 / 3),
            "cart_rate": 0.5,
            "purchase_rate": 1.0,
            "conversion_rate": pytest.approx(1 / 3),
            "revenue": 20.0,
        },
        {
            "day": "2026-03-02",
            "campaign_id": None,
            "views": 2,
            "clicks": 1,
            "add_to_cart": 1,
            "purchases": 1,
            "click_rate": 0.5,
            "cart_rate": 1.0,
            "purchase_rate": 1.0,
            "conversion_rate": 0.5,
            "revenue": 7.5,
        },
    ]
    by_campaign = ok(client, "/analytics/funnel", by="campaign", **EVENT_RANGE)
    assert [
        (r["campaign_id"], r["views"], r["clicks"], r["purchases"], r["conversion_rate"])
        for r in by_campaign["rows"]
    ] == [("camp-A", 1, 1, 1, 1.0), ("camp-B", 2, 1, 1, 0.5)]
    assert [r["revenue"] for r in by_campaign["rows"]] == [20.0, 7.5]


def test_top_products(client: TestClient) -> None:
    body = ok(client, "/analytics/products/top", limit=10, **EVENT_RANGE)
    assert [
        (p["product_id"], p["interactions"], p["views"], p["clicks"], p["purchases"])
        for p in body["products"]
    ] == [("p1", 5, 2, 1, 1), ("p3", 4, 1, 1, 1), ("p2", 3, 2, 1, 0)]
    top = ok(client, "/analytics/products/top", limit=2, **EVENT_RANGE)
    assert [p["product_id"] for p in top["products"]] == ["p1", "p3"]


# --- the cache -----------------------------------------------------------------------------------


async def test_a_second_call_is_served_from_redis(
    config: RecsysApiSettings, settings: PostgresSettings, seeded_schema: str, redis_url: str
) -> None:
    params = {"sensor_id": "pair", **SENSOR_RANGE}
    with serve(config) as client:
        first = ok(client, "/analytics/sensors/stats", **params)
        assert first["sensors"][0]["readings"] == 2
        # A reading the cached answer does not know about.
        conn = await asyncpg.connect(
            **settings.connect_kwargs(), server_settings={"search_path": f'"{seeded_schema}"'}
        )
        try:
            await conn.execute(
                "INSERT INTO sensor_readings (event_id, event_time, sensor_id, value)"
                " VALUES ($1, $2, 'pair', 9.0)",
                uuid.uuid4(),
                T0 + 2 * MINUTE,
            )
        finally:
            await conn.close()
        hits = cache_hits()
        second = ok(client, "/analytics/sensors/stats", **params)
        assert second == first  # from Redis: the new reading is not in it
        assert cache_hits() == hits + 1
        keys = redis.Redis.from_url(redis_url).keys(f"{config.cache.key_prefix}:analytics:*")
        assert len(keys) == 1
        redis.Redis.from_url(redis_url).delete(*keys)
        third = ok(client, "/analytics/sensors/stats", **params)
    assert third["sensors"][0]["readings"] == 3  # recomputed once the key is gone
    assert third["sensors"][0]["max"] == 9.0


# --- who may ask, and how often ------------------------------------------------------------------


def test_the_api_key_is_required(client: TestClient) -> None:
    missing = client.get("/analytics/funnel", params=EVENT_RANGE)
    wrong = client.get("/analytics/funnel", params=EVENT_RANGE, headers={"X-API-Key": "nope"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert "X-API-Key" in missing.json()["detail"]
    assert wrong.json()["detail"] == "invalid API key"


def test_the_analytics_rate_limit_answers_429(config: RecsysApiSettings) -> None:
    limited = config.model_copy(
        update={"rate_limit": RateLimitSettings(default="1000/minute", analytics="2/minute")}
    )
    with serve(limited) as client:
        codes = [
            client.get("/analytics/funnel", params=EVENT_RANGE, headers=AUTH).status_code
            for _ in range(2)
        ]
        over = client.get("/analytics/products/top", params=EVENT_RANGE, headers=AUTH)
    assert codes == [200, 200]
    assert over.status_code == 429
    assert "2 per 1 minute" in over.json()["detail"]
    assert 1 <= int(over.headers["Retry-After"]) <= 60


# --- stores down ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_stores_that_are_down_are_a_503_naming_them(config: RecsysApiSettings) -> None:
    down = config.model_copy(
        update={
            "postgres": config.postgres.model_copy(update={"port": free_port()}),
            "mongo": MongoSettings(url=SecretStr(f"mongodb://127.0.0.1:{free_port()}")),
            "mongo_timeout_ms": 300,
            "readiness_timeout_s": 1.0,
        }
    )
    with serve(down) as client:
        postgres = client.get("/analytics/sensors/stats", params=SENSOR_RANGE, headers=AUTH)
        mongo = client.get("/analytics/funnel", params=EVENT_RANGE, headers=AUTH)
    assert postgres.status_code == 503, postgres.text
    assert postgres.json()["detail"].startswith("postgres is unavailable: ")
    assert mongo.status_code == 503, mongo.text
    assert mongo.json()["detail"].startswith("mongodb is unavailable: ")
    assert postgres.headers["Retry-After"] == mongo.headers["Retry-After"] == "5"


def test_a_schema_without_the_read_models_is_a_503(config: RecsysApiSettings) -> None:
    bare = config.model_copy(update={"postgres_schema": f"absent_{uuid.uuid4().hex[:8]}"})
    with serve(bare) as client:
        response = client.get("/analytics/sensors/stats", params=SENSOR_RANGE, headers=AUTH)
    assert response.status_code == 503
    assert "not migrated" in response.json()["detail"]
