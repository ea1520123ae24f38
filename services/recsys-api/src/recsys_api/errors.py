"""How a store that cannot answer reaches the client: a 503 with a message naming the store, never
a 500. :func:`install_error_handlers` registers the handlers on the app (``create_app`` calls it),
so every router shares them.

A route that reads a store wraps the call in :func:`store_errors`, which turns the store client's
connection failures (refused, timed out, no server selected, schema not migrated) into
:class:`StoreUnavailable`; the handlers also catch those client exceptions directly, so a route
that does not wrap its calls still answers 503 rather than 500. What is left to the default 500
is a bug of ours (a bad query, a bad pipeline): its message is not shown to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Final

import asyncpg
import grpc
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from neo4j.exceptions import ServiceUnavailable, SessionExpired
from pydantic import BaseModel
from pymilvus.exceptions import MilvusException
from pymongo.errors import ConnectionFailure

from polystream_vectors.errors import UNAVAILABLE_ERRORS as UNAVAILABLE_VECTOR_ERRORS
from polystream_vectors.errors import is_unavailable

log = logging.getLogger(__name__)

RETRY_AFTER_S: Final = 5
"""Retry-After of a 503: about one readiness period, enough for a restarted store or a failover."""


class ApiError(BaseModel):
    """The body of an error response: what went wrong, written for the caller."""

    detail: str


class StoreUnavailable(Exception):
    """A store the request needs is down, unreachable, not configured or not migrated."""

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"{store} is unavailable: {reason}")
        self.store = store
        self.reason = reason


# Connection failures of each client. asyncpg lets refused and reset connections through as bare
# OSError, and a pool's connect timeout as TimeoutError (an OSError too): store_errors counts them
# as the store's, since it only wraps that store's calls.
_POSTGRES_FAILURES: Final = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
)
_MONGO_FAILURES: Final = (ConnectionFailure,)  # server selection timeouts, network errors
_NEO4J_FAILURES: Final = (ServiceUnavailable, SessionExpired)
# A read model whose migrations have not run in the schema read: the writer has not started yet.
_NOT_MIGRATED: Final = (asyncpg.exceptions.UndefinedTableError,)


@contextmanager
def store_errors(store: str) -> Iterator[None]:
    """Turn ``store``'s connection failures raised inside the block into
    :class:`StoreUnavailable` (503)."""
    try:
        yield
    except _NOT_MIGRATED as exc:
        raise StoreUnavailable(store, f"its read model is not migrated ({exc})") from exc
    except (*_POSTGRES_FAILURES, *_MONGO_FAILURES, *_NEO4J_FAILURES, OSError) as exc:
        raise StoreUnavailable(store, _reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def _unavailable(exc: StoreUnavailable) -> JSONResponse:
    log.warning("%s", exc, exc_info=exc.__cause__ is not None)
    return JSONResponse(
        {"detail": str(exc)},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def store_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreUnavailable)  # registered for that type only
    return _unavailable(exc)


def _client_failure_handler(
    store: str,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return _unavailable(StoreUnavailable(store, _reason(exc)))

    return handler


async def vector_store_failure_handler(request: Request, exc: Exception) -> JSONResponse:
    """Milvus (or Qdrant) not answering: 503. Any other error of theirs is ours (a bad filter, a
    missing collection): logged, and a 500 whose message is not shown."""
    if is_unavailable(exc):
        return _unavailable(StoreUnavailable("milvus", _reason(exc)))
    log.error("vector store error", exc_info=exc)
    return JSONResponse(
        {"detail": "internal error"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR
    )


def invalid_parameters(message: str, *loc: str | int) -> RequestValidationError:
    """A 422 in FastAPI's own shape, ``{"detail": [{"type", "loc", "msg", "input"}]}``, which the
    OpenAPI schema documents for every 422: a refusal our code makes after the declared bounds
    (``min_price`` above ``max_price``) reads like one FastAPI makes."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", *loc), "msg": message, "input": None}]
    )


def install_error_handlers(app: FastAPI) -> None:
    """503 for :class:`StoreUnavailable` and for the store clients' connection failures that a
    route let through (a bare ``OSError`` is not among them: it is not always a store's)."""
    app.add_exception_handler(StoreUnavailable, store_unavailable_handler)
    by_store: dict[str, tuple[type[Exception], ...]] = {
        "mongodb": _MONGO_FAILURES,
        "neo4j": _NEO4J_FAILURES,
        "postgres": (*_POSTGRES_FAILURES, *_NOT_MIGRATED),
    }
    for store, failures in by_store.items():
        for failure in failures:
            app.add_exception_handler(failure, _client_failure_handler(store))
    for failure in (MilvusException, grpc.RpcError, *UNAVAILABLE_VECTOR_ERRORS):
        app.add_exception_handler(failure, vector_store_failure_handler)


__all__ = [
    "ApiError",
    "StoreUnavailable",
    "install_error_handlers",
    "invalid_parameters",
    "store_errors",
]
