"""The one place that picks graph-writer's concrete adapters."""

from __future__ import annotations

from typing import Any

from graph_writer.catalog import ProductGraphSink
from graph_writer.graph import GraphConnection
from graph_writer.interactions import InteractionGraphSink
from graph_writer.invalidations import InvalidationPublisher, KafkaInvalidationPublisher
from graph_writer.settings import GraphWriterSettings
from polystream_common.loop import Route
from polystream_common.topics import PRODUCTS, USER_EVENTS
from polystream_readmodels.graph import GraphLabels


def graph_connection(settings: GraphWriterSettings) -> GraphConnection:
    """The Neo4j connection of the settings' namespace, unconnected."""
    return GraphConnection(
        settings.neo4j,
        GraphLabels(settings.label_prefix),
        timeout_s=settings.neo4j_timeout_s,
        retry_s=settings.neo4j_retry_s,
        app_name=settings.service_name,
    )


def bootstrap(
    settings: GraphWriterSettings, *, publisher: InvalidationPublisher | None = None
) -> list[Route[Any]]:
    """graph-writer's routes; the sinks share one driver and one invalidation publisher, both
    connected in the first sink's ``setup()``. Tests pass a fake ``publisher``."""
    graph = graph_connection(settings)
    publisher = publisher or KafkaInvalidationPublisher(
        settings.kafka,
        settings.invalidations,
        settings.service_name,
        settings.invalidation_timeout_s,
    )
    return [
        Route(USER_EVENTS, InteractionGraphSink(graph, publisher)),
        Route(PRODUCTS, ProductGraphSink(graph, publisher)),
    ]
