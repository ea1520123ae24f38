"""Settings of graph-writer (env prefix ``GRAPH_WRITER_``, nested with ``__``).

E.g. ``GRAPH_WRITER_NEO4J__URI=bolt://neo4j:7687 GRAPH_WRITER_NEO4J__PASSWORD=...``;
``GRAPH_WRITER_LABEL_PREFIX=e2e_1a2b_`` writes a graph of its own beside the default one.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import ConsumerServiceSettings, Neo4jSettings, ProducerSettings
from polystream_readmodels.graph import LABEL_PREFIX_PATTERN


class GraphWriterSettings(ConsumerServiceSettings):
    """user.events and products.catalog -> the interaction graph in Neo4j."""

    model_config = SettingsConfigDict(
        env_prefix="GRAPH_WRITER_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: str = "graph-writer"
    metrics_port: int = Field(default=9105, ge=0, le=65535)
    neo4j: Neo4jSettings = Neo4jSettings()
    label_prefix: str = Field(
        default="",
        pattern=LABEL_PREFIX_PATTERN,
        description="prepended to every label and constraint name: Neo4j community has one"
        " database, so a test's or benchmark's graph lives under labels of its own",
    )
    neo4j_timeout_s: float = Field(
        default=30.0, gt=0, description="connecting, and waiting for a pooled connection"
    )
    neo4j_retry_s: float = Field(
        default=5.0,
        ge=0,
        description="how long the driver retries a transaction on transient errors (deadlocks)"
        " before the consumer loop's own backoff takes over",
    )
    invalidations: ProducerSettings = ProducerSettings(linger_ms=5)
    invalidation_timeout_s: float = Field(
        default=30.0, gt=0, description="wait for the invalidations' acknowledgements"
    )
