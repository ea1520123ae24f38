"""shop-api's store failures for the shared error handlers (:mod:`polystream_web.errors`): a
PostgreSQL or MongoDB that cannot answer is a 503 naming it, never a 500."""

from __future__ import annotations

from typing import Final

import asyncpg
from fastapi import FastAPI
from pymongo.errors import ConnectionFailure

from polystream_common import postgres
from polystream_web import errors as web_errors
from polystream_web.errors import Failures

POSTGRES_FAILURES: Final[Failures] = (
    *postgres.CONNECTION_REFUSED,
    asyncpg.exceptions.UndefinedTableError,  # the schema not migrated (yet)
)
MONGO_FAILURES: Final[Failures] = (ConnectionFailure,)


def install_error_handlers(app: FastAPI) -> None:
    """503 for the stores' failures a route let through. A bare ``OSError`` (a refused or reset
    connection, which asyncpg lets through unwrapped) is counted too: every I/O of a shop-api
    route is PostgreSQL's or MongoDB's (Redis failures never leave the cache)."""
    web_errors.install_error_handlers(
        app,
        {
            "postgres": POSTGRES_FAILURES,
            "mongodb": MONGO_FAILURES,
            "postgres or mongodb": (OSError,),
        },
    )
