"""Per-route HTTP metrics of every polystream API: every request's latency and status, labelled
by the route's template (``/recommendations/{user_id}``, not the user id), so the series stay
bounded."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import Histogram

REQUEST_SECONDS = Histogram(
    "polystream_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status code.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
UNMATCHED = "<unmatched>"


def route_of(request: Request) -> str:
    """The template of the route that served ``request`` (the router puts it in the scope once it
    matched); anything else (a 404, a scan of random paths, the mounted ``/metrics``) is one
    label, and so adds no series."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def instrument(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            REQUEST_SECONDS.labels(route_of(request), request.method, str(status)).observe(
                time.perf_counter() - started
            )


__all__ = ["REQUEST_SECONDS", "UNMATCHED", "instrument", "route_of"]
