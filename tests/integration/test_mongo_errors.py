"""The Mongo sinks' error classes on errors the real MongoDB wire server (or its absence) raises:
no server is transient, a write the server refuses is not.

Each test works in a database of its own, dropped after it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from pymongo.errors import WriteError

from event_consumer.catalog import ProductCatalogSink
from event_consumer.mongo import MongoConnection, MongoSink
from polystream_common.schemas import AnyUserEvent
from polystream_common.settings import MongoSettings
from polystream_readmodels.collections import USER_EVENTS_COLLECTION

pytestmark = pytest.mark.integration


@pytest.fixture
async def sink(mongo_settings: MongoSettings) -> AsyncIterator[MongoSink[AnyUserEvent]]:
    user_events = MongoSink[AnyUserEvent](MongoConnection(mongo_settings), USER_EVENTS_COLLECTION)
    await user_events.setup()
    yield user_events
    await user_events.close()


def closed_port() -> int:
    """A port nothing listens on: bound once to get a free one, then let go."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_a_server_that_is_not_there_is_transient() -> None:
    settings = MongoSettings(url=f"mongodb://127.0.0.1:{closed_port()}", database="unused")
    connection = MongoConnection(settings, timeout_ms=300)
    for down in (
        MongoSink[AnyUserEvent](connection, USER_EVENTS_COLLECTION),
        ProductCatalogSink(connection),
    ):
        with pytest.raises(Exception) as raised:
            await down.setup()
        assert type(raised.value).__name__ == "ServerSelectionTimeoutError"
        assert down.is_transient(raised.value)


async def test_a_write_the_server_refuses_is_not_transient(
    sink: MongoSink[AnyUserEvent],
) -> None:
    with pytest.raises(WriteError) as refused:
        await sink.collection.update_one({"_id": "x"}, {"$set": {"$bad": 1}}, upsert=True)
    assert refused.value.code == 52  # DollarPrefixedFieldName
    assert not sink.is_transient(refused.value)
