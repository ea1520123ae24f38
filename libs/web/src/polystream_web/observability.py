"""Per-route HTTP metrics of every polystream API: every request's latency and status, labelled
by the route's template (``/recommendations/{user_id}``, not the user id), so the series stay
bounded.

A pure ASGI middleware, not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware``
wraps every response in a stream and a task of its own, which costs a cache hit a measurable
share of its time; this one only reads the status off the ``http.response.start`` message."""

from __future__ import annotations

import time

from fastapi import FastAPI
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_SECONDS = Histogram(
    "polystream_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status code.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
UNMATCHED = "<unmatched>"


def route_of(scope: Scope) -> str:
    """The template of the route that served the request (the router puts it in the scope once
    it matched); anything else (a 404, a scan of random paths, the mounted ``/metrics``) is one
    label, and so adds no series."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestMetrics:
    """Observes :data:`REQUEST_SECONDS` for every HTTP request; a request whose app raised
    before answering counts as a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            REQUEST_SECONDS.labels(route_of(scope), scope["method"], str(status)).observe(
                time.perf_counter() - started
            )


def instrument(app: FastAPI) -> None:
    app.add_middleware(RequestMetrics)


__all__ = ["REQUEST_SECONDS", "UNMATCHED", "RequestMetrics", "instrument", "route_of"]
