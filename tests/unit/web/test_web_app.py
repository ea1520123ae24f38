"""The shared app wiring, health routes and lifespan dependencies on a small app under
TestClient (no network): readiness is 503 when a required probe fails or times out and 200 when
only Redis is down; a route gets the parts of what the lifespan opened."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from polystream_web.app import AppResources, create_api
from polystream_web.health import install_health_routes, readiness_response, run_probes
from polystream_web.security import RateLimitSettings, build_limiter


@dataclass(frozen=True)
class Resources:
    name: str
    probes: dict[str, Any]


resources = AppResources(Resources)
ResourcesDep = Annotated[Resources, Depends(resources.get)]
NameDep = Annotated[str, Depends(resources.part(lambda r: r.name))]


async def ok() -> None:
    return None


async def fails() -> None:
    raise ConnectionError("refused")


async def hangs() -> None:
    await asyncio.sleep(10)


def make_app(probes: dict[str, Any]) -> FastAPI:
    router = APIRouter()

    @router.get("/name")
    async def name(value: NameDep) -> dict[str, str]:
        return {"name": value}

    async def readyz(held: ResourcesDep) -> JSONResponse:
        checks = await run_probes({k: probe() for k, probe in held.probes.items()}, 0.2)
        return readiness_response(checks)

    install_health_routes(router, readyz)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.resources = Resources("shop", probes)
        yield
        del app.state.resources

    return create_api(
        title="unit",
        summary="a unit app",
        version="0.0.1",
        lifespan=lifespan,
        api_key=None,
        limits=build_limiter(RateLimitSettings(enabled=False), "unit"),
        install_error_handlers=lambda app: None,
        routers=[router],
    )


def test_a_route_gets_a_part_of_the_lifespan_resources() -> None:
    with TestClient(make_app({})) as client:
        assert client.get("/name").json() == {"name": "shop"}
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/metrics").status_code == 200


def test_what_startup_built_is_frozen_while_the_app_serves() -> None:
    """Startup's objects are out of the collector's sight while the app runs, back after."""
    assert gc.get_freeze_count() == 0
    with TestClient(make_app({})) as client:
        assert gc.get_freeze_count() > 1000
        assert client.get("/name").status_code == 200
    assert gc.get_freeze_count() == 0


def test_ready_when_every_required_probe_answers_even_with_redis_down() -> None:
    with TestClient(make_app({"postgres": ok, "redis": fails})) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"postgres": "ok", "redis": "down: ConnectionError"}


def test_unready_when_a_required_probe_fails_or_times_out() -> None:
    with TestClient(make_app({"postgres": fails, "mongodb": hangs, "redis": ok})) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "postgres": "down: ConnectionError",
        "mongodb": "down: no answer within 0.2s",
        "redis": "ok",
    }


def test_the_health_routes_are_documented_in_order() -> None:
    paths = list(make_app({}).openapi()["paths"])
    assert paths[-2:] == ["/healthz", "/readyz"]
