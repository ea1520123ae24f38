"""recsys-api's analytics routes without any store: the API key (401), the per-client rate
limits (429 with Retry-After), parameter validation (422 with a message, never a 500), a missing
or failing store (503 naming it), the OpenAPI document, and the settings validator that wants an
API key outside development. No network: the app runs in-process on in-memory adapters, with
the PostgreSQL and MongoDB ports replaced, so the app opens neither."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from pymongo.errors import ServerSelectionTimeoutError

from polystream_common.settings import (
    MongoSettings,
    Neo4jSettings,
    PostgresSettings,
    RedisSettings,
)
from polystream_embeddings.settings import EmbeddingSettings
from polystream_embeddings.testing import HashingEncoder
from polystream_vectors.settings import MilvusSettings
from polystream_vectors.testing import InMemoryVectorStore
from recsys_api.app import create_app
from recsys_api.cache import CacheSettings
from recsys_api.security import build_limiter
from recsys_api.settings import RateLimitSettings, RecsysApiSettings
from recsys_api.testing import InMemoryChat, InMemoryEngagement, InMemoryGraph

DIM = 16
KEY = "s3cret-analytics-key"
AUTH = {"X-API-Key": KEY}
RANGE = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"}
POSTGRES_ROUTES = [
    "/analytics/sensors/stats",
    "/analytics/sensors/s-1/moving-average",
    "/analytics/sensors/anomalies",
    "/analytics/sensors/rollups",
]
MONGO_ROUTES = ["/analytics/events/daily", "/analytics/funnel", "/analytics/products/top"]
LEADERBOARD = "/analytics/engagement/leaderboard"


def settings(**changes: Any) -> RecsysApiSettings:
    base: dict[str, Any] = {
        "embedding": EmbeddingSettings(dimension=DIM),
        "cache": CacheSettings(enabled=False),
        "invalidations": False,
        "api_key": SecretStr(KEY),
        "rate_limit": RateLimitSettings(default="1000/minute", analytics="1000/minute"),
    }
    return RecsysApiSettings(**(base | changes))


def make_app(config: RecsysApiSettings) -> FastAPI:
    return create_app(
        config,
        encoder=HashingEncoder(DIM),
        store=InMemoryVectorStore(),
        graph=InMemoryGraph(),
        engagement=InMemoryEngagement(),
        chat=InMemoryChat(),
    )


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(make_app(settings()), raise_server_exceptions=False) as client:
        yield client


def get(client: TestClient, path: str, **params: Any) -> Any:
    return client.get(path, params=RANGE | params, headers=AUTH)


# --- API key ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*POSTGRES_ROUTES, *MONGO_ROUTES, LEADERBOARD])
def test_a_missing_api_key_is_a_401_that_says_so(client: TestClient, path: str) -> None:
    response = client.get(path, params=RANGE)
    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"].startswith("ApiKey")


@pytest.mark.parametrize(
    "key", ["wrong", KEY + "x", KEY[:-1], KEY.upper(), "é" + KEY[1:], "\u00ff" * 3]
)
def test_a_wrong_api_key_is_a_401(client: TestClient, key: str) -> None:
    # Starlette sends str headers as latin-1: a non-ASCII key must be refused, not crash.
    response = client.get(
        "/analytics/funnel", params=RANGE, headers={"X-API-Key": key.encode("latin-1")}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid API key"


def test_the_right_key_gets_through_to_the_store(client: TestClient) -> None:
    # No store in this app: past the key, the route answers 503 naming the store it needs.
    response = get(client, "/analytics/funnel")
    assert response.status_code == 503
    assert response.json()["detail"] == "mongodb is unavailable: not configured in this app"
    assert response.headers["Retry-After"] == "5"


def test_without_a_configured_key_the_routes_are_open() -> None:
    with TestClient(make_app(settings(api_key=None))) as client:
        response = client.get("/analytics/sensors/stats", params=RANGE)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("postgres is unavailable")


def test_the_other_routes_want_no_key(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200


# --- rate limits ------------------------------------------------------------------------------


def test_the_analytics_budget_is_shared_by_the_routes_and_answers_429_with_retry_after() -> None:
    config = settings(rate_limit=RateLimitSettings(default="1000/minute", analytics="3/minute"))
    with TestClient(make_app(config)) as client:
        statuses = [
            get(client, "/analytics/sensors/stats").status_code,
            get(client, "/analytics/funnel").status_code,
            get(client, LEADERBOARD).status_code,
        ]
        over = get(client, "/analytics/products/top")
        health = client.get("/healthz")
    assert statuses == [503, 503, 503]
    assert over.status_code == 429
    assert "3 per 1 minute" in over.json()["detail"]
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert health.status_code == 200  # not an analytics route: its own budget


def test_refused_keys_do_not_spend_the_budget() -> None:
    config = settings(rate_limit=RateLimitSettings(default="1000/minute", analytics="2/minute"))
    with TestClient(make_app(config)) as client:
        refused = [client.get("/analytics/funnel", params=RANGE).status_code for _ in range(5)]
        allowed = [get(client, "/analytics/funnel").status_code for _ in range(3)]
    assert refused == [401] * 5
    assert allowed == [503, 503, 429]


def test_the_default_limit_applies_per_route() -> None:
    config = settings(rate_limit=RateLimitSettings(default="2/minute", analytics="1000/minute"))
    with TestClient(make_app(config)) as client:
        health = [client.get("/healthz").status_code for _ in range(3)]
        over = client.get("/healthz")
        other_route = client.get("/readyz")
    assert health == [200, 200, 429]
    assert over.status_code == 429
    assert "2 per 1 minute" in over.json()["detail"]
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert other_route.status_code == 200


def test_disabled_rate_limits_never_answer_429() -> None:
    config = settings(
        rate_limit=RateLimitSettings(enabled=False, default="1/minute", analytics="1/minute")
    )
    with TestClient(make_app(config)) as client:
        codes = {get(client, "/analytics/funnel").status_code for _ in range(4)}
        codes |= {client.get("/healthz").status_code for _ in range(4)}
    assert codes == {200, 503}


def test_a_failing_rate_limit_storage_lets_requests_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> bool:
        raise ConnectionError("rate-limit storage down")

    config = settings(rate_limit=RateLimitSettings(default="1/minute", analytics="1/minute"))
    app = make_app(config)
    monkeypatch.setattr(app.state.rate_limits.limiter.limiter, "hit", refuse)
    with TestClient(app) as client:
        health = [client.get("/healthz").status_code for _ in range(3)]
        analytics = [get(client, "/analytics/funnel").status_code for _ in range(3)]
    assert health == [200, 200, 200]
    assert analytics == [503, 503, 503]  # past both limits, to the (absent) store


@pytest.mark.parametrize("field", ["default", "analytics"])
def test_a_limit_that_does_not_parse_stops_the_app_at_creation(field: str) -> None:
    limits = RateLimitSettings(**{field: "lots per fortnight"})
    with pytest.raises(ValueError):
        build_limiter(limits)
    with pytest.raises(ValueError):
        make_app(settings(rate_limit=limits))


# --- validation -------------------------------------------------------------------------------

DAY = "2026-03-01T00:00:00Z"


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/analytics/funnel", {"since": DAY, "until": DAY}, "since must be before until"),
        (
            "/analytics/funnel",
            {"since": "2026-03-02T00:00:00Z", "until": DAY},
            "since must be before until",
        ),
        # The same instant once the offset is applied; no zone means UTC.
        (
            "/analytics/events/daily",
            {"since": "2026-03-01T01:00:00+01:00", "until": "2026-03-01T00:00:00"},
            "since must be before until",
        ),
        (
            "/analytics/sensors/stats",
            {"since": DAY, "until": "2026-04-02T00:00:00Z"},
            "longer than 31 days",
        ),
        (
            "/analytics/sensors/s-1/moving-average",
            {"since": DAY, "until": "2026-03-09T00:00:00Z"},
            "longer than 7 days",
        ),
        (
            "/analytics/sensors/rollups",
            {"since": DAY, "until": "2026-03-09T00:00:00Z"},
            "longer than 7 days",
        ),
        (
            "/analytics/products/top",
            {"since": "0001-01-01T00:30:00+01:00", "until": DAY},
            "out of range",
        ),
        ("/analytics/sensors/anomalies", {"window": 10, "min_samples": 11}, "min_samples"),
    ],
)
def test_bad_ranges_are_a_422_that_says_why(
    client: TestClient, path: str, params: dict[str, Any], message: str
) -> None:
    response = get(client, path, **params)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/analytics/funnel", {"since": "yesterday"}),
        ("/analytics/funnel", {"until": ""}),
        ("/analytics/funnel", {"by": "week"}),
        ("/analytics/products/top", {"limit": 0}),
        ("/analytics/products/top", {"limit": 101}),
        ("/analytics/products/top", {"limit": "ten"}),
        (LEADERBOARD, {"limit": 0}),
        (LEADERBOARD, {"limit": 101}),
        (LEADERBOARD, {"kind": "user"}),
        ("/analytics/sensors/stats", {"sensor_id": "bad id"}),
        ("/analytics/sensors/stats", {"sensor_id": ""}),
        ("/analytics/sensors/stats", {"sensor_id": "x" * 129}),
        ("/analytics/sensors/bad%20id/moving-average", {}),
        ("/analytics/sensors/s-1/moving-average", {"window": 0}),
        ("/analytics/sensors/s-1/moving-average", {"interval_s": 0}),
        ("/analytics/sensors/s-1/moving-average", {"interval_s": "nan"}),
        ("/analytics/sensors/anomalies", {"window": 1}),
        ("/analytics/sensors/anomalies", {"threshold": 0}),
        ("/analytics/sensors/anomalies", {"threshold": "inf"}),
        ("/analytics/sensors/anomalies", {"min_samples": 1}),
    ],
)
def test_bad_parameters_are_a_422_with_a_message(
    client: TestClient, path: str, params: dict[str, Any]
) -> None:
    response = get(client, path, **params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize("path", [*POSTGRES_ROUTES, *MONGO_ROUTES])
def test_a_missing_range_is_a_422(client: TestClient, path: str) -> None:
    response = client.get(path, headers=AUTH)
    assert response.status_code == 422
    assert {e["loc"][-1] for e in response.json()["detail"]} == {"since", "until"}


# --- stores down ------------------------------------------------------------------------------


class RefusingPool:
    """An asyncpg pool whose server refuses connections."""

    async def fetch(self, *args: object) -> list[Any]:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 15432)")


class UnselectableMongo:
    """A MongoDB database whose server cannot be selected."""

    def __getitem__(self, name: str) -> UnselectableMongo:
        return self

    async def aggregate(self, pipeline: object) -> None:
        raise ServerSelectionTimeoutError("127.0.0.1:27027: connection refused")


@pytest.fixture
def down_client() -> Iterator[TestClient]:
    app = make_app(settings())
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.resources = dataclasses.replace(
            app.state.resources, postgres=RefusingPool(), mongo=UnselectableMongo()
        )
        yield client


@pytest.mark.parametrize(
    ("path", "store"),
    [(p, "postgres") for p in [*POSTGRES_ROUTES, LEADERBOARD]]
    + [(p, "mongodb") for p in MONGO_ROUTES],
)
def test_a_store_that_is_down_is_a_503_naming_it(
    down_client: TestClient, path: str, store: str
) -> None:
    response = get(down_client, path)
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"{store} is unavailable: ")
    assert "Connect call failed" in detail or "connection refused" in detail


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_documents_the_analytics_routes_and_the_key(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = {p for p in schema["paths"] if p.startswith("/analytics/")}
    assert paths == {
        "/analytics/sensors/stats",
        "/analytics/sensors/{sensor_id}/moving-average",
        "/analytics/sensors/anomalies",
        "/analytics/sensors/rollups",
        "/analytics/engagement/leaderboard",
        "/analytics/events/daily",
        "/analytics/funnel",
        "/analytics/products/top",
    }
    top = schema["paths"]["/analytics/products/top"]["get"]
    assert top["tags"] == ["analytics"]
    limit = next(p for p in top["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)
    assert {"401", "422", "429", "503"} <= set(top["responses"])
    assert top["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/TopProductsResponse"
    )
    assert top["security"] == [{"APIKeyHeader": []}]
    assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert "security" not in schema["paths"]["/healthz"]["get"]


# --- settings ---------------------------------------------------------------------------------


def outside_development(environment: str, **changes: Any) -> RecsysApiSettings:
    """Settings of ``environment`` with real-looking credentials for every store."""
    return RecsysApiSettings(
        environment=environment,
        postgres=PostgresSettings(password=SecretStr("prod-pg")),
        mongo=MongoSettings(url=SecretStr("mongodb://app:prod@mongo:27017")),
        neo4j=Neo4jSettings(password=SecretStr("prod-neo4j")),
        redis=RedisSettings(url=SecretStr("redis://:prod@redis:6379/0")),
        milvus=MilvusSettings(uri="http://milvus:19530", token=SecretStr("app:prod-milvus")),
        **changes,
    )


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_outside_development_a_missing_api_key_is_refused(environment: str) -> None:
    with pytest.raises(ValidationError, match=f"RECSYS_API_API_KEY must be set in {environment}"):
        outside_development(environment)


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_outside_development_an_api_key_is_accepted_and_masked(environment: str) -> None:
    config = outside_development(environment, api_key=SecretStr("prod-key"))
    assert config.api_key is not None
    assert config.api_key.get_secret_value() == "prod-key"
    assert "prod-key" not in repr(config)
    assert "prod-key" not in config.model_dump_json()


def test_in_development_no_api_key_is_needed() -> None:
    assert RecsysApiSettings(environment="development").api_key is None
