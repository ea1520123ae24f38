"""Which PostgreSQL errors PostgresSink calls transient (the loop retries the batch) and which not
(the loop bisects the batch to the failing records): asyncpg's own exception instances, no I/O."""

from __future__ import annotations

import socket

import asyncpg
import pytest

from polystream_common.settings import PostgresSettings
from polystream_common.sink import TransientSinkError
from sensor_consumer.postgres import PostgresSink, is_transient_postgres_error

TRANSIENT: list[BaseException] = [
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    OSError(113, "No route to host"),
    socket.gaierror(-2, "Name or service not known"),
    TimeoutError(),  # connect, pool.acquire(timeout=...), command_timeout
    TransientSinkError("store busy"),
    asyncpg.PostgresConnectionError("connection exception"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.ConnectionFailureError("connection failure"),
    asyncpg.exceptions.ClientCannotConnectError("cannot connect"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.DiskFullError("could not extend file"),
    asyncpg.exceptions.OutOfMemoryError("out of memory"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CrashShutdownError("terminating connection because of crash"),
    asyncpg.exceptions.IdleSessionTimeoutError("terminating connection due to idle timeout"),
    asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.SerializationError("could not serialize access"),
    asyncpg.DeadlockDetectedError("deadlock detected"),
    asyncpg.LockNotAvailableError("canceling statement due to lock timeout"),
    asyncpg.InterfaceError("cannot perform operation: connection is closed"),
    asyncpg.InterfaceError("pool is closing"),
    asyncpg.InterfaceError("pool is closed"),
]

NOT_TRANSIENT: list[BaseException] = [
    asyncpg.DataError("invalid byte sequence for encoding UTF8: 0x00"),
    asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence"),
    asyncpg.exceptions.NumericValueOutOfRangeError("value out of range"),
    asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.CheckViolationError("violates check constraint"),
    asyncpg.UndefinedTableError('relation "sensor_readings" does not exist'),
    asyncpg.exceptions.DatabaseDroppedError("database was dropped"),
    asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    asyncpg.exceptions.InternalClientError("unexpected"),
    TypeError("expected str, got int"),
    ValueError("bad"),
    KeyError("sensor_id"),
    MemoryError(),
]


def sink() -> PostgresSink:
    return PostgresSink(PostgresSettings())


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: f"{type(e).__name__}:{e}")
def test_a_server_that_is_down_busy_or_restarting_is_transient(exc: BaseException) -> None:
    assert is_transient_postgres_error(exc)
    assert sink().is_transient(exc)


@pytest.mark.parametrize("exc", NOT_TRANSIENT, ids=lambda e: f"{type(e).__name__}:{e}")
def test_a_refused_value_or_a_bug_is_not_transient(exc: BaseException) -> None:
    assert not is_transient_postgres_error(exc)
    assert not sink().is_transient(exc)


def test_the_sqlstate_decides_for_a_code_asyncpg_has_no_class_for() -> None:
    """asyncpg builds a server error from its fields; a SQLSTATE it does not know (a newer
    PostgreSQL's) becomes UnknownPostgresError, and its class still says transient or not."""
    newer_resource_error = asyncpg.PostgresError.new({"C": "53999", "M": "a newer limit"})
    newer_data_error = asyncpg.PostgresError.new({"C": "22999", "M": "a newer data error"})
    assert type(newer_resource_error).__name__ == "UnknownPostgresError"
    assert is_transient_postgres_error(newer_resource_error)
    assert not is_transient_postgres_error(newer_data_error)
