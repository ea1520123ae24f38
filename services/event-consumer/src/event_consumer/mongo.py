"""MongoDB adapter: one shared client, and MongoSink writing a stream into one collection.

Writes are one unordered bulk of ``InsertOne`` per batch, keyed by ``_id = event_id``:

- a redelivered record hits the ``_id`` unique index (duplicate key, code 11000) and counts as
  already written, so a batch written twice leaves each document once; an insert that finds its
  document is cheaper than a replace/upsert, and events are immutable, so nothing is lost;
- unordered, so one refused document does not stop the others; the refused ones come back as
  :class:`~polystream_common.sink.Rejection` (they go to the DLQ with the server's reason);
- a transient error on any document, a write-concern error, or an error of the whole command
  raises: the loop retries the whole batch, which the point above makes safe.

Error classes (:func:`is_transient_mongo_error`): no server, a lost connection, a timeout, a
write concern that timed out, an error the server labels retryable, and the transient write
errors above (:class:`MongoBatchError`) make the loop retry the batch with backoff. Any other
error of a whole command (a document the server refuses outside a bulk write, a bug) is not
transient: the loop bisects the batch down to the records that fail.
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
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WTimeoutError,
)

from event_consumer.documents import event_document
from polystream_common.schemas import Event
from polystream_common.settings import MongoSettings
from polystream_common.sink import Rejection, Sink, SinkRecord, TransientSinkError
from polystream_readmodels.collections import CollectionSpec

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


# Labels the server (4.0+) and the driver put on an error that a retry may clear.
TRANSIENT_ERROR_LABELS = ("RetryableWriteError", "TransientTransactionError")
TRANSIENT_MONGO_ERRORS: tuple[type[BaseException], ...] = (
    *Sink.transient_errors,
    # AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError, NotPrimaryError,
    # WaitQueueTimeoutError: no server, or none that takes writes, right now.
    ConnectionFailure,
    ExecutionTimeout,  # maxTimeMS ran out
    WTimeoutError,  # the write concern timed out; the write itself may well be there
)


class MongoBatchError(TransientSinkError):
    """The batch must be retried as a whole (a transient or write-concern error)."""


def is_transient_mongo_error(exc: BaseException) -> bool:
    """True if ``exc`` means MongoDB cannot take the batch now, so the whole batch is retried:
    see :data:`TRANSIENT_MONGO_ERRORS`, :data:`TRANSIENT_ERROR_LABELS`, and a command that failed
    with one of :data:`TRANSIENT_WRITE_CODES` (a step-down, a shutdown). Anything else is the
    documents' or the code's, and a retry would fail the same way."""
    if isinstance(exc, TRANSIENT_MONGO_ERRORS):
        return True
    if not isinstance(exc, PyMongoError):
        return False
    if any(exc.has_error_label(label) for label in TRANSIENT_ERROR_LABELS):
        return True
    return (
        isinstance(exc, OperationFailure)
        and not isinstance(exc, BulkWriteError)  # sorted per document by rejections_for
        and exc.code in TRANSIENT_WRITE_CODES
    )


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
    batch: Sequence[SinkRecord[E]], details: Mapping[str, Any], *, upserts: bool = False
) -> list[Rejection[E]]:
    """Sort the write errors of an unordered bulk: already written, refused, or retry the batch.

    ``batch[i]`` is the record of the bulk's ``i``-th request. With ``upserts`` a duplicate
    ``_id`` is not "already written" but two upserts of one id that raced: the batch is retried.
    """
    if details.get("writeConcernErrors"):
        raise MongoBatchError(f"write concern not satisfied: {details['writeConcernErrors']}")
    rejections: list[Rejection[E]] = []
    for error in details.get("writeErrors", []):
        code = error.get("code")
        if code in TRANSIENT_WRITE_CODES or (upserts and is_duplicate_id(error)):
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


class MongoCollectionSink(Sink[E]):
    """What every sink of one MongoDB collection shares: the collection and its indexes made in
    :meth:`setup`, the shared client released in :meth:`close`, and MongoDB's error classes.
    Subclasses write."""

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
            raise RuntimeError(f"{type(self).__name__}.setup() was not called")
        return self._collection

    def is_transient(self, exc: BaseException) -> bool:
        return is_transient_mongo_error(exc)

    async def close(self) -> None:
        if self._collection is not None:
            self._collection = None
            await self._connection.release()


class MongoSink(MongoCollectionSink[E]):
    """Writes one stream's events into one collection; idempotent on ``_id = event_id``."""

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
