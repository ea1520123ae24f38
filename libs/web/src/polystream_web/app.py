"""The wiring every polystream API shares, in one order: :func:`create_api` builds the FastAPI
app around a service's lifespan hook, with the request metrics, the API key, the rate limits,
the service's error handlers, its routers and ``/metrics``; and the typed dependencies of the
routes on what that lifespan hook opened (:class:`AppResources`)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Generic, TypeVar

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import make_asgi_app
from pydantic import SecretStr

from polystream_web.observability import instrument
from polystream_web.security import RateLimits, install_api_key, install_rate_limits

R = TypeVar("R")
T = TypeVar("T")


def create_api(
    *,
    title: str,
    summary: str,
    version: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    api_key: SecretStr | None,
    limits: RateLimits,
    install_error_handlers: Callable[[FastAPI], None],
    routers: Sequence[APIRouter],
) -> FastAPI:
    """The app: ``lifespan`` opens (and closes) the clients; every request is measured, the API
    key and rate limits apply, the error handlers answer, then ``routers`` in order, and the
    Prometheus metrics are mounted at ``/metrics``. Nothing connects here."""
    app = FastAPI(
        title=title, summary=summary, version=version, lifespan=frozen_after_startup(lifespan)
    )
    instrument(app)
    install_api_key(app, api_key)
    install_rate_limits(app, limits)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    app.mount("/metrics", make_asgi_app())
    return app


def frozen_after_startup(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """``lifespan``, then :func:`gc.freeze` until shutdown. What startup built (some 230k
    objects of modules, clients and the model in recsys-api) lives as long as the process; frozen,
    it is left out of the full collections that requests' survivors trigger now and then, which
    otherwise walk it all (~200 ms here) and land in the latency tail (one wrk run each way:
    recsys-api's cache-hit p99 at 16 connections went from 234 to 108 ms)."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()

    return run


class AppResources(Generic[R]):
    """The routes' dependencies on what the lifespan hook put on ``app.state.resources`` while
    the app runs (one ``kind``: the service's dataclass of its clients)::

        resources = AppResources(Resources)
        ResourcesDep = Annotated[Resources, Depends(resources.get)]
        PoolDep = Annotated[asyncpg.Pool, Depends(resources.part(lambda r: r.pool))]

    (Plain functions, not this object, are the dependencies: FastAPI reads their signatures.)"""

    def __init__(self, kind: type[R]) -> None:  # ``kind`` only binds R for the type checker
        def get_resources(request: Request) -> R:
            resources: R = request.app.state.resources
            return resources

        self.get = get_resources

    def part(self, read: Callable[[R], T]) -> Callable[[Request], T]:
        """The dependency on ``read(resources)``."""
        get_resources = self.get

        def get_part(request: Request) -> T:
            return read(get_resources(request))

        return get_part


__all__ = ["AppResources", "create_api", "frozen_after_startup"]
