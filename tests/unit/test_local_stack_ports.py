"""The settings' defaults are the local stack's addresses, for a developer's convenience; the ports
themselves are written down in deploy/local/stack.env. A default that drifts from it fails here."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from aggregator.settings import AggregatorSettings
from pydantic_settings import BaseSettings

from dashboard.settings import DashboardSettings
from embedder.settings import EmbedderSettings
from event_consumer.settings import EventConsumerSettings
from graph_writer.settings import GraphWriterSettings
from lake_writer.settings import LakeWriterSettings
from orchestrator.settings import OrchestratorSettings
from polystream_common.settings import (
    KafkaSettings,
    MongoSettings,
    Neo4jSettings,
    PostgresSettings,
    RedisSettings,
    ServiceSettings,
)
from producer.settings import ProducerServiceSettings
from recsys_api.settings import RecsysApiSettings
from sensor_consumer.settings import SensorConsumerSettings
from shop_api.settings import ShopApiSettings

# Each service's settings, and the stack.env variable of its metrics port.
SERVICES: list[tuple[type[ServiceSettings], str]] = [
    (ProducerServiceSettings, "PRODUCER_METRICS_PORT"),
    (SensorConsumerSettings, "SENSOR_CONSUMER_METRICS_PORT"),
    (EventConsumerSettings, "EVENT_CONSUMER_METRICS_PORT"),
    (EmbedderSettings, "EMBEDDER_METRICS_PORT"),
    (AggregatorSettings, "AGGREGATOR_METRICS_PORT"),
    (GraphWriterSettings, "GRAPH_WRITER_METRICS_PORT"),
    (LakeWriterSettings, "LAKE_WRITER_METRICS_PORT"),
    (OrchestratorSettings, "ORCHESTRATOR_METRICS_PORT"),
    (ShopApiSettings, "SHOP_CATALOG_METRICS_PORT"),  # the catalog consumer's
]


def defaults(cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch) -> BaseSettings:
    """The settings with none of the environment's variables of their prefix."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    for name in list(os.environ):
        if prefix and name.upper().startswith(prefix):
            monkeypatch.delenv(name)
    return cls()


def test_the_store_settings_default_to_the_local_stack(stack_env: dict[str, str]) -> None:
    assert KafkaSettings().bootstrap_servers == f"127.0.0.1:{stack_env['KAFKA_PORT']}"
    postgres = PostgresSettings()
    assert (postgres.host, postgres.port) == ("127.0.0.1", int(stack_env["POSTGRES_PORT"]))
    assert (postgres.user, postgres.database) == (
        stack_env["POSTGRES_USER"],
        stack_env["POSTGRES_DB"],
    )
    assert postgres.password.get_secret_value() == stack_env["POSTGRES_PASSWORD"]
    assert (
        MongoSettings().url.get_secret_value() == f"mongodb://127.0.0.1:{stack_env['MONGO_PORT']}"
    )
    assert (
        RedisSettings()
        .url.get_secret_value()
        .startswith(f"redis://127.0.0.1:{stack_env['REDIS_PORT']}/")
    )
    neo4j = Neo4jSettings()
    assert neo4j.uri == f"bolt://127.0.0.1:{stack_env['NEO4J_BOLT_PORT']}"
    assert (neo4j.user, neo4j.password.get_secret_value()) == (
        stack_env["NEO4J_USER"],
        stack_env["NEO4J_PASSWORD"],
    )


@pytest.mark.parametrize(("cls", "port_var"), SERVICES, ids=[v for _, v in SERVICES])
def test_each_service_defaults_to_its_stack_env_ports(
    cls: type[ServiceSettings],
    port_var: str,
    stack_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = defaults(cls, monkeypatch)
    assert isinstance(settings, ServiceSettings)
    assert settings.metrics_port == int(stack_env[port_var])
    assert settings.kafka.bootstrap_servers == f"127.0.0.1:{stack_env['KAFKA_PORT']}"
    postgres = getattr(settings, "postgres", None)
    if postgres is not None:
        assert postgres.port == int(stack_env["POSTGRES_PORT"])
    milvus = getattr(settings, "milvus", None)
    if milvus is not None:
        assert milvus.uri == f"http://127.0.0.1:{stack_env['MILVUS_PORT']}"
    mongo = getattr(settings, "mongo", None)
    if mongo is not None:
        assert mongo.url.get_secret_value() == f"mongodb://127.0.0.1:{stack_env['MONGO_PORT']}"


def test_the_http_ports_default_to_stack_env(
    stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert defaults(RecsysApiSettings, monkeypatch).port == int(stack_env["RECSYS_API_PORT"])
    shop = defaults(ShopApiSettings, monkeypatch)
    assert isinstance(shop, ShopApiSettings)
    assert shop.port == int(stack_env["SHOP_API_PORT"])
    assert shop.relay.metrics_port == int(stack_env["SHOP_RELAY_METRICS_PORT"])
    assert defaults(DashboardSettings, monkeypatch).port == int(stack_env["DASHBOARD_PORT"])


def test_every_port_the_stack_binds_is_in_stack_env_once_and_checked_by_up(
    stack_env: dict[str, str],
) -> None:
    """process-compose.yaml binds ports by their stack.env name; stack.sh's STACK_PORTS must list
    each one, or `up` would not notice another process holding it (e.g. a second Neo4j)."""
    local = Path(__file__).resolve().parents[2] / "deploy" / "local"
    compose = (local / "process-compose.yaml").read_text()
    listed = re.search(r"^STACK_PORTS=\(([^)]*)\)", (local / "stack.sh").read_text(), re.M)
    assert listed is not None
    checked = set(listed.group(1).split())
    bound = set(re.findall(r"\$\{(\w+_PORT)\}", compose))
    assert bound <= checked, f"missing from STACK_PORTS in stack.sh: {sorted(bound - checked)}"
    assert checked <= set(stack_env), f"not in stack.env: {sorted(checked - set(stack_env))}"
    ports = [value for name, value in stack_env.items() if name.endswith("_PORT")]
    assert len(set(ports)) == len(ports), "two ports of stack.env share a number"
