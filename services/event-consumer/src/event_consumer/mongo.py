"""MongoDB adapter: one shared client, and MongoSink writing a stream into one collection.

Writes are one unordered bulk of ``InsertOne`` per batch, keyed by ``_id = event_id``:

- a redelivered record hits the ``_id`` unique index (duplicate key, code 11000) and counts as
  already written, so a batch written twice leaves each document once; an insert that finds its
  document is cheaper than a replace/upsert, and events are immutable, so nothing is lost;
- unordered, so one refused document does not stop the others; the refused ones come back as
  :class:`~polystream_common.sink.Rejection` (they go to the DLQ with the server's reason);
- a transient error on any document, a write-concern error, or an error of the whole command
  raises: the loop retries the whole batch, which the point above makes safe.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, InsertOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from event_consumer.documents import CollectionSpec, event_document
from polystream_common.schemas import Event
from polystream_common.settings import MongoSettings
from polystream_common.sink import Rejection, Sink, SinkRecord

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Document = dict[str, Any]

DUPLICATE_KEY = 11000
# Per-document error codes that say "try again", not "this document is bad": the batch is retried.
TRANSIENT_WRITE_CODES = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        112,  # WriteConflict
        189,  # PrimarySteppedDown
        262,  # ExceededTimeLimit
        9001,  # SocketException
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
    }
)


class MongoBatchError(Exception):
    """The batch must be retried as a whole (a transient or write-concern error)."""


class MongoConnection:
    """One ``AsyncMongoClient`` shared by every sink of a service (a client is a pool).

    The first :meth:`acquire` connects; the last :meth:`release` closes. Nothing connects in
    ``__init__``.
    """

    def __init__(
        self, settings: MongoSettings, timeout_ms: int = 10_000, app_name: str = ""
    ) -> None:
        self._settings = settings
        self._timeout_ms = timeout_ms
        self._app_name = app_name or None
        self._client: AsyncMongoClient[Document] | None = None
        self._users = 0

    async def acquire(self) -> AsyncDatabase[Document]:
        """The service's database; connects (and checks the server answers) on first use."""
        if self._client is None:
            client: AsyncMongoClient[Document] = AsyncMongoClient(
                self._settings.url.get_secret_value(),
                tz_aware=True,
                appname=self._app_name,
                serverSelectionTimeoutMS=self._timeout_ms,
                connectTimeoutMS=self._timeout_ms,
                socketTimeoutMS=self._timeout_ms,
            )
            try:
                await client.admin.command("ping")
            except Exception:
                await client.close()
                raise
            self._client = client
        self._users += 1
        return self._client[self._settings.database]

    async def release(self) -> None:
        """Give back one :meth:`acquire`; the last one closes the client."""
        if self._users == 0:
            return
        self._users -= 1
        if self._users == 0 and self._client is not None:
            client, self._client = self._client, None
            await client.close()

    @asynccontextmanager
    async def database(self) -> AsyncIterator[AsyncDatabase[Document]]:
        """``async with connection.database() as db``: acquire, then release."""
        db = await self.acquire()
        try:
            yield db
        finally:
            await self.release()


def is_duplicate_id(error: Mapping[str, Any]) -> bool:
    """A duplicate key on ``_id`` (the document is already there), not on another unique index."""
    if error.get("code") != DUPLICATE_KEY:
        return False
    key_pattern = error.get("keyPattern")
    if key_pattern is not None:  # MongoDB 4.4+ names the index's keys
        return dict(key_pattern) == {"_id": 1}
    return " index: _id_ " in str(error.get("errmsg", ""))


def rejections_for(
    batch: Sequence[SinkRecord[E]], details: Mapping[str, Any]
) -> list[Rejection[E]]:
    """Sort the write errors of an unordered bulk: already written, refused, or retry the batch."""
    if details.get("writeConcernErrors"):
        raise MongoBatchError(f"write concern not satisfied: {details['writeConcernErrors']}")
    rejections: list[Rejection[E]] = []
    for error in details.get("writeErrors", []):
        code = error.get("code")
        if code in TRANSIENT_WRITE_CODES:
            raise MongoBatchError(f"transient write error {code}: {error.get('errmsg')}")
        if is_duplicate_id(error):
            continue
        rejections.append(
            Rejection(
                batch[error["index"]],
                "MongoWriteError",
                f"code {code} ({error.get('codeName', '?')}): {error.get('errmsg', '')}",
            )
        )
    return rejections


class MongoSink(Sink[E]):
    """Writes one stream's events into one collection; idempotent on ``_id = event_id``."""

    def __init__(self, connection: MongoConnection, collection: CollectionSpec) -> None:
        self.name = f"mongo-{collection.name}"
        self._connection = connection
        self._spec = collection
        self._collection: AsyncCollection[Document] | None = None

    async def setup(self) -> None:
        db = await self._connection.acquire()
        try:
            collection = db[self._spec.name]
            if self._spec.indexes:
                # Same name and keys as last time: the server does nothing.
                await collection.create_indexes(list(self._spec.indexes))
        except Exception:
            await self._connection.release()
            raise
        self._collection = collection

    @property
    def collection(self) -> AsyncCollection[Document]:
        if self._collection is None:
            raise RuntimeError("MongoSink.setup() was not called")
        return self._collection

    async def write(self, batch: Sequence[SinkRecord[E]]) -> Sequence[Rejection[E]]:
        if not batch:
            return []
        ingested_at = datetime.now(UTC)
        requests = [InsertOne(event_document(record, ingested_at)) for record in batch]
        try:
            await self.collection.bulk_write(requests, ordered=False)
        except BulkWriteError as exc:
            rejections = rejections_for(batch, exc.details)
            if rejections:
                log.warning(
                    "documents refused",
                    extra={"collection": self._spec.name, "refused": len(rejections)},
                )
            return rejections
        return []

    async def close(self) -> None:
        if self._collection is not None:
            self._collection = None
            await self._connection.release()
