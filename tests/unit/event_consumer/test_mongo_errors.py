"""Which MongoDB errors the Mongo sinks call transient (the loop retries the batch) and which not
(the loop bisects the batch to the failing records): PyMongo's own exception instances, no I/O."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    DocumentTooLarge,
    DuplicateKeyError,
    ExecutionTimeout,
    InvalidOperation,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
    WriteConcernError,
    WriteError,
    WTimeoutError,
)

from event_consumer.catalog import ProductCatalogSink
from event_consumer.mongo import (
    MongoBatchError,
    MongoConnection,
    MongoSink,
    is_transient_mongo_error,
)
from polystream_common.settings import MongoSettings
from polystream_common.sink import Sink, TransientSinkError
from polystream_readmodels.collections import USER_EVENTS_COLLECTION

TRANSIENT: list[BaseException] = [
    AutoReconnect("connection closed"),
    ConnectionFailure("connection refused"),
    NetworkTimeout("timed out"),
    ServerSelectionTimeoutError("127.0.0.1:27027: [Errno 111] Connection refused"),
    NotPrimaryError("not primary", {"code": 10107}),
    WaitQueueTimeoutError("timed out waiting for a connection from the pool"),
    ExecutionTimeout("operation exceeded time limit", 50),
    WTimeoutError("waiting for replication timed out", 64),
    MongoBatchError("transient write error 91"),
    TransientSinkError("busy"),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    PyMongoError("a retryable write failed", error_labels=["RetryableWriteError"]),
    OperationFailure(
        "WriteConflict", 112, {"errorLabels": ["TransientTransactionError"], "code": 112}
    ),
    OperationFailure("interrupted at shutdown", 11600),
    OperationFailure("primary stepped down", 189),
]

NOT_TRANSIENT: list[BaseException] = [
    OperationFailure("Document can't have $ prefixed field names: $bad", 52),
    OperationFailure("unknown operator: $foo", 2),
    WriteError("document failed validation", 121),
    WriteConcernError("no write concern mode named 'majority2' found", 79),
    DuplicateKeyError("E11000 duplicate key error collection: db.c index: sku_1", 11000),
    DocumentTooLarge("BSON document too large"),
    InvalidOperation("cannot use a closed client"),
    ConfigurationError("bad uri"),
    BulkWriteError({"writeErrors": [{"index": 0, "code": 2}], "writeConcernErrors": []}),
    TypeError("documents must be a non-empty list"),
    ValueError("bad"),
    MemoryError(),
]


def sinks() -> list[Sink[Any]]:
    """Every Mongo sink of event-consumer; nothing connects before setup()."""
    connection = MongoConnection(MongoSettings())
    return [MongoSink[Any](connection, USER_EVENTS_COLLECTION), ProductCatalogSink(connection)]


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: f"{type(e).__name__}:{e}")
def test_no_server_a_lost_connection_a_timeout_or_a_retryable_label_is_transient(
    exc: BaseException,
) -> None:
    assert is_transient_mongo_error(exc)
    assert all(sink.is_transient(exc) for sink in sinks())


@pytest.mark.parametrize("exc", NOT_TRANSIENT, ids=lambda e: f"{type(e).__name__}:{e}")
def test_a_refused_document_or_a_bug_is_not_transient(exc: BaseException) -> None:
    assert not is_transient_mongo_error(exc)
    assert not any(sink.is_transient(exc) for sink in sinks())


def test_a_batch_error_is_a_transient_sink_error() -> None:
    assert issubclass(MongoBatchError, TransientSinkError)
