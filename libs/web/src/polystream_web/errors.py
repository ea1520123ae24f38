"""How an API's errors reach the client, shared by polystream's APIs: a store that cannot answer
is a 503 with a message naming the store (never a 500), a refused parameter a 422 in FastAPI's own
shape, and every error body is :class:`ApiError`.

A service names its store clients' connection failures (this library depends on no store
client): :func:`translate_store_errors` turns those raised inside a block into
:class:`StoreUnavailable`, and :func:`install_error_handlers` answers 503 for it and for those
failures when a route let them through. What is left to the default 500 is a bug of ours: its
message is not shown to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

log = logging.getLogger(__name__)

RETRY_AFTER_S: Final = 5
"""Retry-After of a 503: about one readiness period, enough for a restarted store or a failover."""

Failures = tuple[type[Exception], ...]


class ApiError(BaseModel):
    """The body of an error response: what went wrong, written for the caller."""

    detail: str


class StoreUnavailable(Exception):
    """A store the request needs is down, unreachable, not configured or not migrated."""

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"{store} is unavailable: {reason}")
        self.store = store
        self.reason = reason


@contextmanager
def translate_store_errors(
    store: str, failures: Failures, not_migrated: Failures = ()
) -> Iterator[None]:
    """Turn ``failures`` (a store client's connection errors) and ``not_migrated`` (its "no such
    table") raised inside the block into :class:`StoreUnavailable` (503)."""
    try:
        yield
    except not_migrated as exc:
        raise StoreUnavailable(store, f"its read model is not migrated ({exc})") from exc
    except failures as exc:
        raise StoreUnavailable(store, failure_reason(exc)) from exc


def failure_reason(exc: BaseException) -> str:
    """A one-line reason for a 503's message: the error's type and first line, bounded."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def unavailable_response(exc: StoreUnavailable) -> JSONResponse:
    """The 503 of ``exc``, with Retry-After."""
    log.warning("%s", exc, exc_info=exc.__cause__ is not None)
    return JSONResponse(
        {"detail": str(exc)},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def store_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreUnavailable)  # registered for that type only
    return unavailable_response(exc)


def client_failure_handler(
    store: str,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler answering 503 for ``store`` whatever failure of its client reaches it."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return unavailable_response(StoreUnavailable(store, failure_reason(exc)))

    return handler


def invalid_parameters(message: str, *loc: str | int) -> RequestValidationError:
    """A 422 in FastAPI's own shape, ``{"detail": [{"type", "loc", "msg", "input"}]}``, which the
    OpenAPI schema documents for every 422: a refusal our code makes after the declared bounds
    (``min_price`` above ``max_price``) reads like one FastAPI makes. ``loc`` is where, as
    FastAPI writes it: ``"query"``, ``"body", "items"``, ``"header", "Idempotency-Key"``..."""
    return RequestValidationError(
        [{"type": "value_error", "loc": loc, "msg": message, "input": None}]
    )


def install_error_handlers(app: FastAPI, failures_by_store: Mapping[str, Failures]) -> None:
    """503 for :class:`StoreUnavailable` and for each store's client failures (store -> exception
    types) that a route let through. Name no bare ``OSError`` there: it is not always a store's."""
    app.add_exception_handler(StoreUnavailable, store_unavailable_handler)
    for store, failures in failures_by_store.items():
        for failure in failures:
            app.add_exception_handler(failure, client_failure_handler(store))


__all__ = [
    "RETRY_AFTER_S",
    "ApiError",
    "Failures",
    "StoreUnavailable",
    "client_failure_handler",
    "failure_reason",
    "install_error_handlers",
    "invalid_parameters",
    "store_unavailable_handler",
    "translate_store_errors",
    "unavailable_response",
]
