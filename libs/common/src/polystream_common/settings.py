"""Settings shared by every service: one base class, nested Kafka and store settings.

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix`` and nests the store
settings it needs. Nested fields use ``__``: ``SENSOR_CONSUMER_POSTGRES__HOST=db``.
Default credentials exist for the local stack only; outside ``development`` they are refused.
"""

from __future__ import annotations

import logging
import socket
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

LOCAL_DEFAULT_PASSWORD = "polystream"
NEO4J_LOCAL_PASSWORD = "polystream-local"  # Neo4j wants at least 8 characters


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class KafkaSettings(BaseModel):
    """Connection to the Kafka cluster, shared by producers and consumers."""

    bootstrap_servers: str = "127.0.0.1:19092"
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="prepended to every topic name (and so to its DLQ): a namespace of topics of"
        " its own, e.g. for tests beside a running stack",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    def client_config(self) -> dict[str, Any]:
        """librdkafka options common to every client."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return config


class ProducerSettings(BaseModel):
    """Throughput and durability knobs of the idempotent producer."""

    linger_ms: int = Field(default=20, ge=0)
    batch_size_bytes: int = Field(default=256 * 1024, ge=1)
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    queue_max_messages: int = Field(default=500_000, ge=1)
    delivery_timeout_ms: int = Field(default=120_000, ge=1)


class ConsumerSettings(BaseModel):
    """The consumer loop: batch bounds, backoff and the memory ceiling of the fetch queue."""

    group_id: str = Field(default="", description="defaults to the service name")
    batch_size: int = Field(default=5_000, ge=1)
    batch_timeout_s: float = Field(default=0.5, gt=0)
    pipelined: bool = Field(
        default=True,
        description="poll the next batch while one is written (taking only what is fetched"
        " already: low latency, batches as small as the traffic); False gathers every batch for"
        " up to batch_timeout_s or batch_size records (fewer, bigger writes: the lake's files)",
    )
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    session_timeout_ms: int = Field(default=45_000, ge=6_000)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    queued_max_messages_kbytes: int = Field(default=16_384, ge=1)
    backoff_initial_s: float = Field(default=0.2, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    """Retries (a store down, a server not up at start) wait uniform(0, min(max, initial * 2**n))
    seconds: exponential backoff with full jitter."""
    statistics_interval_ms: int = Field(default=5_000, ge=0)
    keepalive_s: float = Field(
        default=1.0,
        gt=0,
        description="a sink write running longer than this pauses the partitions and polls until"
        " it ends, so a write longer than max.poll.interval.ms keeps the group membership",
    )
    checkpoint_timeout_s: float = Field(
        default=30.0, gt=0, description="deadline of one checkpoint commit (then it is retried)"
    )
    rebalance_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="deadline of the work done when partitions are revoked or assigned (waiting"
        " for the write in flight, the checkpoint, the sinks' partition hooks)",
    )


class PostgresSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 15432
    user: str = "polystream"
    password: SecretStr = SecretStr(LOCAL_DEFAULT_PASSWORD)
    database: str = "polystream"
    pool_min_size: int = Field(default=1, ge=1)
    pool_max_size: int = Field(default=4, ge=1)

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``asyncpg.connect``/``create_pool``: no DSN to escape, so a
        password such as ``p@ss/w:rd#1`` reaches the server as written."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password.get_secret_value(),
            "database": self.database,
        }

    def uses_default_credentials(self) -> bool:
        return self.password.get_secret_value() == LOCAL_DEFAULT_PASSWORD


class MongoSettings(BaseModel):
    url: SecretStr = SecretStr("mongodb://127.0.0.1:27027")
    database: str = "polystream"

    def uses_default_credentials(self) -> bool:
        # The local stack's server has no auth; a URL without credentials is local-only.
        return "@" not in self.url.get_secret_value()


class Neo4jSettings(BaseModel):
    """A Neo4j server over Bolt (the local stack's: deploy/local/neo4j)."""

    uri: str = "bolt://127.0.0.1:17687"
    user: str = "neo4j"
    password: SecretStr = SecretStr(NEO4J_LOCAL_PASSWORD)
    database: str = "neo4j"

    def uses_default_credentials(self) -> bool:
        return self.password.get_secret_value() == NEO4J_LOCAL_PASSWORD


class RedisSettings(BaseModel):
    url: SecretStr = SecretStr("redis://127.0.0.1:16379/0")

    def uses_default_credentials(self) -> bool:
        return "@" not in self.url.get_secret_value()


class ServiceSettings(BaseSettings):
    """Base of every service's settings. Subclasses set ``env_prefix`` and add their stores."""

    # nested_model_default_partial_update: RECSYS_API_MILVUS__URI alone keeps the rest of the
    # default instance a service declares (its Bounded reads), instead of the type's defaults.
    model_config = SettingsConfigDict(
        env_nested_delimiter="__", extra="ignore", nested_model_default_partial_update=True
    )

    service_name: str
    environment: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"
    log_json: bool = False
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9100, ge=0, le=65535)
    kafka: KafkaSettings = KafkaSettings()

    @model_validator(mode="after")
    def _refuse_default_credentials(self) -> ServiceSettings:
        if self.environment is Environment.DEVELOPMENT:
            return self
        offenders = [
            name
            for name in type(self).model_fields
            if getattr(getattr(self, name), "uses_default_credentials", lambda: False)()
        ]
        if offenders:
            raise ValueError(
                f"default local-stack credentials are refused in {self.environment.value}: "
                f"set real ones for {', '.join(offenders)}"
            )
        return self

    def log_effective(self) -> None:
        """Log the effective configuration once at start; SecretStr values stay masked."""
        log.info("effective settings", extra={"settings": self.model_dump(mode="json")})


class ConsumerServiceSettings(ServiceSettings):
    """Base of the services that run the consumer loop."""

    consumer: ConsumerSettings = ConsumerSettings()
    dlq_producer: ProducerSettings = ProducerSettings(linger_ms=5)
    instance_id: str = Field(
        default_factory=socket.gethostname,
        description="stable per replica (pod name): a restart with the same id fences the old one",
    )

    def transactional_id(self) -> str:
        return f"{self.consumer.group_id}.{self.instance_id}"

    @model_validator(mode="after")
    def _group_defaults_to_service(self) -> ConsumerServiceSettings:
        if not self.consumer.group_id:
            self.consumer = self.consumer.model_copy(update={"group_id": self.service_name})
        return self
