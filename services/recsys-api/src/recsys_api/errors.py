"""How a store that cannot answer reaches a recsys-api client: a 503 with a message naming the
store, never a 500. The shapes and handlers are the shared ones of :mod:`polystream_web.errors`;
this module names recsys-api's store clients' failures (PostgreSQL, MongoDB, Neo4j, Milvus).

A route that reads a store wraps the call in :func:`store_errors`, which turns the store client's
connection failures (refused, timed out, no server selected, schema not migrated) into
:class:`StoreUnavailable`; the handlers also catch those client exceptions directly, so a route
that does not wrap its calls still answers 503 rather than 500. What is left to the default 500
is a bug of ours (a bad query, a bad pipeline): its message is not shown to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import asyncpg
import grpc
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from neo4j.exceptions import ServiceUnavailable, SessionExpired
from pymilvus.exceptions import MilvusException
from pymongo.errors import ConnectionFailure

from polystream_common import postgres
from polystream_vectors.errors import UNAVAILABLE_ERRORS as UNAVAILABLE_VECTOR_ERRORS
from polystream_vectors.errors import is_unavailable
from polystream_web import errors as web_errors
from polystream_web.errors import (
    ApiError,
    StoreUnavailable,
    invalid_parameters,
    unavailable_response,
)

log = logging.getLogger(__name__)

# Connection failures of each client. asyncpg lets refused and reset connections through as bare
# OSError, and a pool's connect timeout as TimeoutError (an OSError too): store_errors counts them
# as the store's, since it only wraps that store's calls.
_MONGO_FAILURES: Final = (ConnectionFailure,)  # server selection timeouts, network errors
_NEO4J_FAILURES: Final = (ServiceUnavailable, SessionExpired)
# A read model whose migrations have not run in the schema read: the writer has not started yet.
_NOT_MIGRATED: Final = (asyncpg.exceptions.UndefinedTableError,)


@contextmanager
def store_errors(store: str) -> Iterator[None]:
    """Turn ``store``'s connection failures raised inside the block into
    :class:`StoreUnavailable` (503)."""
    failures = (*postgres.CONNECTION_REFUSED, *_MONGO_FAILURES, *_NEO4J_FAILURES, OSError)
    with web_errors.translate_store_errors(store, failures, _NOT_MIGRATED):
        yield


async def vector_store_failure_handler(request: Request, exc: Exception) -> JSONResponse:
    """Milvus (or Qdrant) not answering: 503. Any other error of theirs is ours (a bad filter, a
    missing collection): logged, and a 500 whose message is not shown."""
    if is_unavailable(exc):
        return unavailable_response(StoreUnavailable("milvus", web_errors.failure_reason(exc)))
    log.error("vector store error", exc_info=exc)
    return JSONResponse(
        {"detail": "internal error"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR
    )


def install_error_handlers(app: FastAPI) -> None:
    """503 for :class:`StoreUnavailable` and for the store clients' connection failures that a
    route let through (a bare ``OSError`` is not among them: it is not always a store's)."""
    web_errors.install_error_handlers(
        app,
        {
            "mongodb": _MONGO_FAILURES,
            "neo4j": _NEO4J_FAILURES,
            "postgres": (*postgres.CONNECTION_REFUSED, *_NOT_MIGRATED),
        },
    )
    for failure in (MilvusException, grpc.RpcError, *UNAVAILABLE_VECTOR_ERRORS):
        app.add_exception_handler(failure, vector_store_failure_handler)


__all__ = [
    "ApiError",
    "StoreUnavailable",
    "install_error_handlers",
    "invalid_parameters",
    "store_errors",
]
