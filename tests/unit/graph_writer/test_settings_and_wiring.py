"""graph-writer's settings, wiring and error classes, with no network: env nesting, the label
prefix's namespace, default credentials refused outside development, routes the loop accepts,
nothing connected at wiring time, and which errors retry a batch."""

from __future__ import annotations

import uuid

import pytest
from neo4j.exceptions import (
    ClientError,
    CypherSyntaxError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)
from pydantic import ValidationError

from graph_writer.bootstrap import bootstrap
from graph_writer.catalog import ProductGraphSink, product_rows
from graph_writer.graph import is_transient_graph_error
from graph_writer.interactions import InteractionGraphSink, InteractionStatements
from graph_writer.invalidations import RecordingPublisher
from graph_writer.settings import GraphWriterSettings
from polystream_common.kafka import DeliveryError
from polystream_common.loop import check_routes
from polystream_common.schemas import Product
from polystream_common.sink import DeletingSink, SinkRecord
from polystream_common.topics import PRODUCTS, USER_EVENTS
from polystream_readmodels.graph import GraphLabels

from .test_rows import T0


def test_settings_read_their_prefix_and_nest_neo4j(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_WRITER_NEO4J__URI", "bolt://graph:7687")
    monkeypatch.setenv("GRAPH_WRITER_NEO4J__PASSWORD", "s3cret-pass")
    monkeypatch.setenv("GRAPH_WRITER_LABEL_PREFIX", "e2e_1a2b_")
    monkeypatch.setenv("GRAPH_WRITER_CONSUMER__BATCH_SIZE", "250")
    settings = GraphWriterSettings()
    assert settings.neo4j.uri == "bolt://graph:7687"
    assert settings.neo4j.password.get_secret_value() == "s3cret-pass"
    assert settings.label_prefix == "e2e_1a2b_"
    assert settings.consumer.batch_size == 250
    assert settings.consumer.group_id == "graph-writer"
    assert "s3cret-pass" not in str(settings.model_dump(mode="json"))


def test_defaults_are_the_local_stack_and_refused_outside_development() -> None:
    settings = GraphWriterSettings()
    assert (settings.service_name, settings.metrics_port, settings.label_prefix) == (
        "graph-writer",
        9105,
        "",
    )
    with pytest.raises(ValidationError, match="neo4j"):
        GraphWriterSettings(environment="production")


@pytest.mark.parametrize("prefix", ["1abc_", "e2e-1a2b_", "a b", "x" * 65])
def test_a_label_prefix_that_is_not_an_identifier_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError):
        GraphWriterSettings(label_prefix=prefix)
    with pytest.raises(ValueError):
        GraphLabels(prefix)


def test_every_label_and_constraint_carries_the_prefix() -> None:
    labels = GraphLabels("e2e_1a2b_")
    assert labels.all() == (
        "e2e_1a2b_User",
        "e2e_1a2b_Product",
        "e2e_1a2b_Campaign",
        "e2e_1a2b_Watermark",
    )
    assert labels.constraint_names() == [f"{label}_id" for label in labels.all()]
    for statement, label in zip(labels.constraints(), labels.all(), strict=True):
        assert f"`{label}_id` IF NOT EXISTS FOR (n:`{label}`)" in statement
    cypher = InteractionStatements(labels)
    statements = [v for k, v in vars(cypher).items() if not k.startswith("_")]
    for statement in statements:
        for bare in ("User", "Product", "Campaign", "Watermark"):
            assert f":`{bare}`" not in statement


def test_bootstrap_routes_both_topics_and_connects_nothing() -> None:
    publisher = RecordingPublisher()
    routes = bootstrap(GraphWriterSettings(metrics_port=0), publisher=publisher)
    check_routes(routes)  # tombstones on the catalog mean delete: its sink deletes
    assert [(r.stream.topic, type(r.sink)) for r in routes] == [
        (USER_EVENTS.topic, InteractionGraphSink),
        (PRODUCTS.topic, ProductGraphSink),
    ]
    assert isinstance(routes[1].sink, DeletingSink)
    sink = routes[0].sink
    assert isinstance(sink, InteractionGraphSink)
    with pytest.raises(RuntimeError, match="acquire"):
        _ = sink._graph.driver  # no driver until setup()


@pytest.mark.parametrize(
    "exc",
    [
        ServiceUnavailable("no server"),
        SessionExpired("gone"),
        TransientError("deadlock"),
        DeliveryError("3 records failed delivery"),
        ConnectionError("refused"),
        TimeoutError(),
    ],
)
def test_an_unavailable_store_or_broker_retries_the_batch(exc: BaseException) -> None:
    assert is_transient_graph_error(exc)


@pytest.mark.parametrize(
    "exc", [CypherSyntaxError("bad"), ClientError("constraint"), ValueError("bug")]
)
def test_other_errors_are_bisected(exc: BaseException) -> None:
    assert not is_transient_graph_error(exc)


def test_the_catalog_writes_each_products_latest_record_once() -> None:
    def product(offset: int, category: str) -> SinkRecord[Product]:
        value = Product(
            event_id=uuid.uuid4(),
            event_time=T0,
            product_id="p1",
            name=f"n{offset}",
            description="",
            category=category,
            price=1.0,
        )
        return SinkRecord(value, PRODUCTS.topic, 0, offset)

    assert product_rows([product(0, "shoes"), product(1, "kitchen")]) == [
        {"id": "p1", "category": "kitchen", "name": "n1"}
    ]
