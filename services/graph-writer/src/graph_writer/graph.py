"""The Neo4j side every graph-writer sink shares: one async driver, the schema, the error classes.

Transient (the loop retries the batch with backoff, partitions paused): no server or a lost
connection (``ServiceUnavailable``, ``SessionExpired``), a ``TransientError`` (a deadlock, a lock
that timed out, a server low on memory), any error the driver calls retryable, and a failed
publish of the invalidations. Anything else (a Cypher error, a constraint a row breaks) is the
records' or the code's: the loop bisects the batch.

Each batch is one ``execute_write`` transaction. The driver itself retries a transaction function
on transient errors for ``retry_s`` (a deadlock clears in milliseconds); longer outages come back
to the loop, whose retries show in metrics. A retried function runs again from the start, reading
the watermarks again, so a retry after a commit whose acknowledgement was lost skips what it
wrote.
"""

from __future__ import annotations

import asyncio
import logging

from neo4j import AsyncDriver, AsyncGraphDatabase
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired, TransientError

from polystream_common.kafka import DeliveryError
from polystream_common.settings import Neo4jSettings
from polystream_common.sink import Sink
from polystream_readmodels.graph import GraphLabels

log = logging.getLogger(__name__)

TRANSIENT_GRAPH_ERRORS: tuple[type[BaseException], ...] = (
    *Sink.transient_errors,
    ServiceUnavailable,  # includes SessionExpired's siblings: no server, no writer, routing lost
    SessionExpired,
    TransientError,  # deadlocks, lock timeouts, a server out of memory for now
    DeliveryError,  # the invalidations were not acknowledged: publish again
)


def is_transient_graph_error(exc: BaseException) -> bool:
    """True if the store (or the broker, for invalidations) cannot take the batch now."""
    if isinstance(exc, TRANSIENT_GRAPH_ERRORS):
        return True
    return isinstance(exc, Neo4jError) and exc.is_retryable()


class GraphConnection:
    """One ``AsyncDriver`` shared by the service's sinks (a driver is a pool), with the labels of
    its namespace. The first :meth:`acquire` connects and creates the uniqueness constraints;
    the last :meth:`release` closes. Nothing connects in ``__init__``."""

    def __init__(
        self,
        settings: Neo4jSettings,
        labels: GraphLabels,
        *,
        timeout_s: float = 30.0,
        retry_s: float = 5.0,
        app_name: str = "graph-writer",
    ) -> None:
        self.labels = labels
        self._settings = settings
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._app_name = app_name
        self._driver: AsyncDriver | None = None
        self._users = 0
        self._lock = asyncio.Lock()

    @property
    def database(self) -> str:
        return self._settings.database

    @property
    def driver(self) -> AsyncDriver:
        if self._driver is None:
            raise RuntimeError("GraphConnection.acquire() was not called")
        return self._driver

    async def acquire(self) -> AsyncDriver:
        """The driver; connects, checks the server and creates the schema on first use."""
        async with self._lock:
            if self._driver is None:
                driver = AsyncGraphDatabase.driver(
                    self._settings.uri,
                    auth=(self._settings.user, self._settings.password.get_secret_value()),
                    user_agent=self._app_name,
                    connection_timeout=self._timeout_s,
                    connection_acquisition_timeout=self._timeout_s,
                    max_transaction_retry_time=self._retry_s,
                )
                try:
                    await driver.verify_connectivity()
                    await create_schema(driver, self.labels, self.database)
                except BaseException:
                    await driver.close()
                    raise
                self._driver = driver
            self._users += 1
            return self._driver

    async def release(self) -> None:
        async with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0 and self._driver is not None:
                driver, self._driver = self._driver, None
                await driver.close()


async def create_schema(driver: AsyncDriver, labels: GraphLabels, database: str) -> None:
    """The uniqueness constraints of ``labels`` (idempotent: ``IF NOT EXISTS``)."""
    for statement in labels.constraints():
        await driver.execute_query(statement, database_=database)
    log.info("graph constraints in place", extra={"constraints": labels.constraint_names()})
