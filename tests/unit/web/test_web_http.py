"""The shared HTTP pieces on a small app under TestClient (no network): API key, default and
scoped rate limits, store failures as 503, route labels of the request metrics."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from polystream_web.errors import (
    StoreUnavailable,
    install_error_handlers,
    translate_store_errors,
)
from polystream_web.observability import REQUEST_SECONDS, instrument
from polystream_web.security import (
    ApiKeyDep,
    RateLimitSettings,
    build_limiter,
    install_api_key,
    install_rate_limits,
    scope_limit,
)


class DriverDown(Exception):
    pass


def make_app(key: str | None, default: str = "100/minute", scoped: str = "100/minute") -> FastAPI:
    app = FastAPI()
    instrument(app)
    install_api_key(app, SecretStr(key) if key else None)
    install_rate_limits(
        app, build_limiter(RateLimitSettings(default=default), "unit", {"heavy": scoped})
    )
    install_error_handlers(app, {"db": (DriverDown,)})
    heavy = Depends(scope_limit("heavy", "on the heavy routes"))

    @app.get("/open/{item}")
    def open_route(item: str) -> dict[str, str]:
        return {"item": item}

    @app.get("/guarded", dependencies=[ApiKeyDep, heavy])
    def guarded() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/other-heavy", dependencies=[heavy])
    def other_heavy() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/down")
    def down() -> None:
        raise DriverDown("refused")

    @app.get("/wrapped")
    def wrapped() -> None:
        with translate_store_errors("db", (DriverDown,)):
            raise DriverDown("refused")

    return app


def test_the_api_key_is_wanted_when_configured() -> None:
    with TestClient(make_app("secret")) as client:
        assert client.get("/guarded").status_code == 401
        assert client.get("/guarded", headers={"X-API-Key": "nope"}).status_code == 401
        assert client.get("/guarded", headers={"X-API-Key": "secret"}).status_code == 200
        assert client.get("/open/x").status_code == 200
    with TestClient(make_app(None)) as client:
        assert client.get("/guarded").status_code == 200


def test_default_limit_per_route_and_scoped_limit_across_routes() -> None:
    with TestClient(make_app(None, default="2/minute", scoped="3/minute")) as client:
        assert [client.get("/open/a").status_code for _ in range(3)] == [200, 200, 429]
        limited = client.get("/open/b")  # the same route template: the same budget
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    with TestClient(make_app(None, default="100/minute", scoped="3/minute")) as client:
        codes = [client.get(p).status_code for p in ("/guarded", "/other-heavy") * 2]
        assert codes == [200, 200, 200, 429]


def test_a_limit_that_does_not_parse_stops_the_app_at_build() -> None:
    with pytest.raises(ValueError):
        build_limiter(RateLimitSettings(default="lots per fortnight"), "unit")


def test_store_failures_are_503_naming_the_store() -> None:
    with TestClient(make_app(None)) as client:
        for path in ("/down", "/wrapped"):
            response = client.get(path)
            assert response.status_code == 503
            assert response.json()["detail"].startswith("db is unavailable")
            assert response.headers["Retry-After"] == "5"
    assert str(StoreUnavailable("db", "x")) == "db is unavailable: x"


def observed(route: str, status: str) -> float:
    """How many requests REQUEST_SECONDS counted for ``route`` answered with ``status``."""
    for metric in REQUEST_SECONDS.collect():
        for sample in metric.samples:
            labels = sample.labels
            if sample.name.endswith("_count") and (labels["route"], labels["status"]) == (
                route,
                status,
            ):
                return sample.value
    return 0.0


def test_request_metrics_label_the_route_template_and_the_status() -> None:
    app = make_app(None)

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("not a store error")

    before = {
        key: observed(*key)
        for key in [("/open/{item}", "200"), ("<unmatched>", "404"), ("/down", "503"),
                    ("/bug", "500")]
    }  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get("/open/one")
        client.get("/open/two")
        client.get("/no-such-path")
        assert client.get("/down").status_code == 503
        assert client.get("/bug").status_code == 500
    counted = {key: observed(*key) - value for key, value in before.items()}
    assert counted == {
        ("/open/{item}", "200"): 2,
        ("<unmatched>", "404"): 1,
        ("/down", "503"): 1,
        ("/bug", "500"): 1,
    }
