"""event-consumer without a server: document mapping, write-error sorting, wiring, settings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from event_consumer.bootstrap import bootstrap
from event_consumer.documents import event_document
from event_consumer.mongo import (
    MongoBatchError,
    MongoCollectionSink,
    is_duplicate_id,
    rejections_for,
)
from event_consumer.settings import EventConsumerSettings
from polystream_common.schemas import ChatMessage, UserEventV1, UserEventV2
from polystream_common.sink import DeletingSink, SinkRecord
from polystream_readmodels.collections import CHAT_MESSAGES_COLLECTION, USER_EVENTS_COLLECTION

T0 = datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)
EVENT_ID = uuid.UUID("6a1f0b7e-2c1d-4a8e-9a55-0f5d0d7f1c01")


def v1(**overrides: Any) -> UserEventV1:
    fields: dict[str, Any] = {
        "event_id": EVENT_ID,
        "event_time": T0,
        "user_id": "u1",
        "session_id": "s1",
        "event_type": "purchase",
        "product_id": "p1",
        "price": 9.5,
        "quantity": 2,
    }
    return UserEventV1(**{**fields, **overrides})


def record(event: Any, offset: int = 41) -> SinkRecord[Any]:
    return SinkRecord(event, "user.events", 3, offset, b"u1")


def test_a_v1_event_becomes_a_native_document_without_unset_fields() -> None:
    assert event_document(record(v1()), NOW) == {
        "_id": "6a1f0b7e-2c1d-4a8e-9a55-0f5d0d7f1c01",
        "event_time": T0,
        "schema_version": 1,
        "user_id": "u1",
        "session_id": "s1",
        "event_type": "purchase",
        "product_id": "p1",
        "price": 9.5,
        "quantity": 2,
        "kafka": {"topic": "user.events", "partition": 3, "offset": 41},
        "ingested_at": NOW,
    }


def test_a_v2_event_keeps_its_device_and_version() -> None:
    event = UserEventV2(
        event_id=EVENT_ID, event_time=T0, user_id="u1", session_id="s1", event_type="view",
        device="android",
    )  # fmt: skip
    document = event_document(record(event), NOW)
    assert document["schema_version"] == 2
    assert document["device"] == "android"
    assert "product_id" not in document
    without_device = UserEventV2(
        event_id=EVENT_ID, event_time=T0, user_id="u1", session_id="s1", event_type="view"
    )
    assert "device" not in event_document(record(without_device), NOW)


def test_a_chat_message_document() -> None:
    message = ChatMessage(
        event_id=EVENT_ID, event_time=T0, user_id="u1", conversation_id="c1", text="hello"
    )
    document = event_document(SinkRecord(message, "chat.messages", 0, 5), NOW)
    assert document["_id"] == str(EVENT_ID)
    assert document["text"] == "hello"
    assert document["conversation_id"] == "c1"
    assert isinstance(document["event_time"], datetime)
    assert "event_id" not in document


def test_index_sets() -> None:
    def keys(spec: Any) -> dict[str, Any]:
        return {m.document["name"]: dict(m.document["key"]) for m in spec.indexes}

    assert keys(USER_EVENTS_COLLECTION) == {
        "user_time": {"user_id": 1, "event_time": -1},
        "type_time": {"event_type": 1, "event_time": -1},
        "product_time": {"product_id": 1, "event_time": -1},
        "time": {"event_time": -1},
    }
    assert keys(CHAT_MESSAGES_COLLECTION) == {
        "conv_time": {"conversation_id": 1, "event_time": 1},
        "user_time": {"user_id": 1, "event_time": -1},
    }


DUP_ID = {
    "code": 11000,
    "errmsg": 'E11000 duplicate key error collection: db.c index: _id_ dup key: { _id: "x" }',
}
DUP_OTHER = {
    "code": 11000,
    "errmsg": 'E11000 duplicate key error collection: db.c index: uq dup key: { s: "1" }',
}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (DUP_ID, True),
        (DUP_OTHER, False),
        ({**DUP_OTHER, "keyPattern": {"_id": 1}}, True),  # MongoDB 4.4+ names the keys
        ({**DUP_ID, "keyPattern": {"session_id": 1}}, False),
        ({"code": 121, "errmsg": "Document failed validation"}, False),
    ],
)
def test_is_duplicate_id(error: dict[str, Any], expected: bool) -> None:
    assert is_duplicate_id(error) is expected


def test_duplicates_of_id_are_written_others_are_rejected_with_the_reason() -> None:
    batch = [record(v1(event_id=uuid.uuid4()), offset=i) for i in range(4)]
    details = {
        "writeErrors": [
            {**DUP_ID, "index": 0},
            {"index": 2, "code": 121, "codeName": "DocumentValidationFailure",
             "errmsg": "Document failed validation"},
            {**DUP_OTHER, "index": 3, "codeName": "DuplicateKey"},
        ],
        "writeConcernErrors": [],
    }  # fmt: skip
    rejections = rejections_for(batch, details)
    assert [r.record for r in rejections] == [batch[2], batch[3]]
    assert rejections[0].error_class == "MongoWriteError"
    assert rejections[0].message == (
        "code 121 (DocumentValidationFailure): Document failed validation"
    )
    assert "index: uq" in rejections[1].message


@pytest.mark.parametrize(
    "details",
    [
        {"writeErrors": [{"index": 0, "code": 91, "errmsg": "shutdown in progress"}]},
        {"writeErrors": [], "writeConcernErrors": [{"code": 64, "errmsg": "waiting"}]},
    ],
)
def test_transient_and_write_concern_errors_retry_the_batch(details: dict[str, Any]) -> None:
    with pytest.raises(MongoBatchError):
        rejections_for([record(v1())], details)


async def test_an_empty_batch_needs_no_server() -> None:
    settings = EventConsumerSettings()
    sink = bootstrap(settings)[0].sink
    assert await sink.write([]) == []


async def test_writing_before_setup_is_an_error() -> None:
    sink = bootstrap(EventConsumerSettings())[0].sink
    with pytest.raises(RuntimeError, match="setup"):
        await sink.write([record(v1())])


def test_bootstrap_routes_every_stream_through_one_client() -> None:
    routes = bootstrap(EventConsumerSettings())
    assert [(r.stream.topic, r.sink.name) for r in routes] == [
        ("user.events", "mongo-user_events"),
        ("chat.messages", "mongo-chat_messages"),
        ("products.catalog", "mongo-products"),
    ]
    sinks = [r.sink for r in routes]
    assert all(isinstance(s, MongoCollectionSink) for s in sinks)
    assert isinstance(sinks[2], DeletingSink)
    assert len({id(s._connection) for s in sinks}) == 1  # type: ignore[attr-defined]


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_CONSUMER_MONGO__URL", "mongodb://db:27017")
    monkeypatch.setenv("EVENT_CONSUMER_MONGO__DATABASE", "events")
    settings = EventConsumerSettings()
    assert settings.service_name == "event-consumer"
    assert settings.metrics_port == 9103
    assert settings.consumer.group_id == "event-consumer"
    assert settings.mongo.url.get_secret_value() == "mongodb://db:27017"
    assert settings.mongo.database == "events"


def test_production_refuses_the_local_server_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_CONSUMER_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="mongo"):
        EventConsumerSettings()


@pytest.mark.parametrize(
    "event",
    [
        UserEventV1(
            event_id=uuid.uuid4(),
            event_time=datetime(2026, 1, 2, tzinfo=UTC),
            user_id="u",
            session_id="s",
            event_type="purchase",
            product_id="p",
            price=9.5,
            quantity=2,
        ),
        UserEventV2(
            event_id=uuid.uuid4(),
            event_time=datetime(2026, 1, 2, tzinfo=UTC),
            user_id="u",
            session_id="s",
            event_type="view",
            device="ios",
        ),
        ChatMessage(
            event_id=uuid.uuid4(),
            event_time=datetime(2026, 1, 2, tzinfo=UTC),
            user_id="u",
            conversation_id="c",
            text="hi",
        ),
    ],
)
def test_documents_built_from_the_model_dict_equal_model_dump(event: Any) -> None:
    now = datetime.now(UTC)
    doc = event_document(SinkRecord(event, "t", 0, 1), now)
    dumped = event.model_dump(mode="python", exclude_none=True, exclude={"event_id"})
    assert {k: v for k, v in doc.items() if k not in ("_id", "kafka", "ingested_at")} == dumped
    assert list(doc)[1 : len(dumped) + 1] == list(dumped)  # same field order
