"""MongoSink against the real MongoDB wire-protocol server of the local stack: indexes, native
documents, idempotent redelivery, refused documents, the shared client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from event_consumer.bootstrap import bootstrap
from event_consumer.mongo import MongoConnection, MongoSink
from event_consumer.settings import EventConsumerSettings
from polystream_common.schemas import AnyUserEvent, ChatMessage, UserEventV1, UserEventV2
from polystream_common.settings import MongoSettings
from polystream_common.sink import SinkRecord
from polystream_readmodels.collections import USER_EVENTS_COLLECTION, CollectionSpec

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def sink(mongo_settings: MongoSettings) -> AsyncIterator[MongoSink[AnyUserEvent]]:
    connection = MongoConnection(mongo_settings)
    user_events = MongoSink[AnyUserEvent](connection, USER_EVENTS_COLLECTION)
    await user_events.setup()
    yield user_events
    await user_events.close()


def user_event(
    i: int, *, device: str | None = None, v2: bool = False, session: str | None = None
) -> AnyUserEvent:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "event_time": T0 + timedelta(minutes=i),
        "user_id": f"user-{i % 3}",
        "session_id": session or f"sess-{i}",
        "event_type": "view",
        "product_id": f"p-{i % 2}",
    }
    if v2 or device:
        return UserEventV2(**fields, device=device)  # type: ignore[arg-type]
    return UserEventV1(**fields)


def as_records(events: list[AnyUserEvent], first_offset: int = 0) -> list[SinkRecord[AnyUserEvent]]:
    return [SinkRecord(e, "user.events", 2, first_offset + i) for i, e in enumerate(events)]


async def test_indexes_are_created_once_and_again_without_error(
    mongo_settings: MongoSettings, db: AsyncDatabase[dict[str, Any]]
) -> None:
    for _ in range(2):  # a restart runs setup() again on the same collection
        connection = MongoConnection(mongo_settings)
        sink = MongoSink[AnyUserEvent](connection, USER_EVENTS_COLLECTION)
        await sink.setup()
        await sink.close()
    indexes = await db["user_events"].index_information()
    assert {name: spec["key"] for name, spec in indexes.items()} == {
        "_id_": [("_id", 1)],
        "user_time": [("user_id", 1), ("event_time", -1)],
        "type_time": [("event_type", 1), ("event_time", -1)],
        "product_time": [("product_id", 1), ("event_time", -1)],
        "time": [("event_time", -1)],
    }


async def test_a_batch_written_twice_is_stored_once(
    sink: MongoSink[AnyUserEvent], db: AsyncDatabase[dict[str, Any]]
) -> None:
    events = [user_event(i) for i in range(50)]
    batch = as_records(events)
    assert await sink.write(batch) == []
    assert await sink.write(batch) == []  # redelivery after a crash before the commit
    # A later batch that repeats part of the first one, and a record twice within itself.
    later = [*events[40:], user_event(60), user_event(61)]
    overlap = as_records(later, first_offset=40)
    assert await sink.write([*overlap, overlap[-1]]) == []

    assert await db["user_events"].count_documents({}) == 52
    stored = {doc["_id"] async for doc in db["user_events"].find({}, {"_id": 1})}
    assert stored == {str(e.event_id) for e in [*events, *later]}


async def test_documents_are_native_and_v1_v2_live_side_by_side(
    sink: MongoSink[AnyUserEvent], db: AsyncDatabase[dict[str, Any]]
) -> None:
    v1, v2, v2_without_device = user_event(1), user_event(2, device="ios"), user_event(3, v2=True)
    assert await sink.write(as_records([v1])) == []
    assert await sink.write(as_records([v2, v2_without_device], first_offset=1)) == []

    docs = {doc["_id"]: doc async for doc in db["user_events"].find()}
    first = docs[str(v1.event_id)]
    assert first["event_time"] == v1.event_time
    assert isinstance(first["event_time"], datetime)
    assert first["schema_version"] == 1
    assert "device" not in first
    assert "campaign_id" not in first  # unset optional fields are left out, not null
    assert first["kafka"] == {"topic": "user.events", "partition": 2, "offset": 0}
    assert isinstance(first["ingested_at"], datetime)
    assert docs[str(v2.event_id)]["device"] == "ios"
    assert docs[str(v2.event_id)]["schema_version"] == 2
    assert "device" not in docs[str(v2_without_device.event_id)]
    assert await db["user_events"].count_documents({"device": None}) == 2


async def test_a_refused_document_is_rejected_and_the_rest_written(
    mongo_settings: MongoSettings, db: AsyncDatabase[dict[str, Any]]
) -> None:
    # A unique index on another field makes the server refuse one document for good.
    spec = CollectionSpec(
        "user_events_unique_session",
        (IndexModel([("session_id", 1)], unique=True, name="unique_session"),),
    )
    sink = MongoSink[AnyUserEvent](MongoConnection(mongo_settings), spec)
    await sink.setup()
    try:
        events = [user_event(1), user_event(2, session="sess-1"), user_event(3)]
        batch = as_records(events)
        rejections = await sink.write(batch)
        assert [r.record for r in rejections] == [batch[1]]
        assert rejections[0].error_class == "MongoWriteError"
        assert "11000" in rejections[0].message
        assert "unique_session" in rejections[0].message
        # Redelivered: the written ones count as written, the refused one is refused again.
        assert [r.record for r in await sink.write(batch)] == [batch[1]]
    finally:
        await sink.close()
    stored = {doc["_id"] async for doc in db[spec.name].find({}, {"_id": 1})}
    assert stored == {str(events[0].event_id), str(events[2].event_id)}


async def test_bootstrap_sinks_share_one_client_and_write_every_stream(
    mongo_settings: MongoSettings, db: AsyncDatabase[dict[str, Any]]
) -> None:
    routes = bootstrap(EventConsumerSettings(mongo=mongo_settings))
    assert [r.stream.topic for r in routes] == ["user.events", "chat.messages", "products.catalog"]
    for route in routes:
        await route.sink.setup()
    events_sink, chat_sink, products_sink = (route.sink for route in routes)
    await products_sink.close()
    message = ChatMessage(
        event_id=uuid.uuid4(),
        event_time=T0,
        user_id="user-1",
        conversation_id="conv-1",
        text="is the lamp any good?",
        product_id="p-1",
    )
    assert await events_sink.write(as_records([user_event(1)])) == []
    await events_sink.close()  # the client stays open for the other sink
    assert await chat_sink.write([SinkRecord(message, "chat.messages", 0, 7)]) == []
    await chat_sink.close()

    chat = await db["chat_messages"].find_one({"_id": str(message.event_id)})
    assert chat is not None
    assert chat["text"] == "is the lamp any good?"
    assert chat["conversation_id"] == "conv-1"
    assert await db["user_events"].count_documents({}) == 1
    chat_indexes = await db["chat_messages"].index_information()
    assert set(chat_indexes) == {"_id_", "conv_time", "user_time"}
