"""The one place that picks event-consumer's concrete adapters."""

from __future__ import annotations

from typing import Any

from event_consumer.catalog import ProductCatalogSink
from event_consumer.mongo import MongoConnection, MongoSink
from event_consumer.settings import EventConsumerSettings
from polystream_common.loop import Route
from polystream_common.schemas import AnyUserEvent, ChatMessage
from polystream_common.topics import CHAT_MESSAGES, PRODUCTS, USER_EVENTS
from polystream_readmodels.collections import CHAT_MESSAGES_COLLECTION, USER_EVENTS_COLLECTION


def bootstrap(settings: EventConsumerSettings) -> list[Route[Any]]:
    # The sinks share one client; it connects in the first sink's setup().
    mongo = MongoConnection(settings.mongo, settings.mongo_timeout_ms, settings.service_name)
    return [
        Route(USER_EVENTS, MongoSink[AnyUserEvent](mongo, USER_EVENTS_COLLECTION)),
        Route(CHAT_MESSAGES, MongoSink[ChatMessage](mongo, CHAT_MESSAGES_COLLECTION)),
        Route(PRODUCTS, ProductCatalogSink(mongo)),
    ]
