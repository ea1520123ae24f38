"""Settings of the aggregator (env prefix ``AGGREGATOR_``, nested with ``__``)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import PostgresSettings, ServiceSettings


class StreamProcessorSettings(BaseModel):
    """The Quix Streams application: its group, its commits and its group membership."""

    group_id: str = "aggregator"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    commit_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="each commit is one Kafka transaction (outputs, changelogs, offsets) after"
        " the PostgreSQL writes: a shorter interval means fresher rows and more transactions",
    )
    session_timeout_ms: int = Field(
        default=45_000,
        ge=6_000,
        description="a replacement of a member that died without leaving (SIGKILL) waits this"
        " long for its partitions; tests lower it",
    )
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)


class EngagementSettings(BaseModel):
    """Engagement scores of products and campaigns. Weights reflect intent: a purchase says more
    than a cart, a cart more than a click, a click more than a view (campaign ones alike)."""

    window_s: float = Field(default=60.0, gt=0, description="tumbling event-time window")
    half_life_s: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="a score halves every half-life without interactions: a day-old purchase"
        " weighs 1/16 of a fresh one",
    )
    weight_view: float = Field(default=1.0, ge=0)
    weight_click: float = Field(default=3.0, ge=0)
    weight_add_to_cart: float = Field(default=8.0, ge=0)
    weight_purchase: float = Field(default=20.0, ge=0)
    weight_campaign_view: float = Field(default=1.0, ge=0)
    weight_campaign_click: float = Field(default=3.0, ge=0)

    def weights(self) -> dict[str, float]:
        return {
            "view": self.weight_view,
            "click": self.weight_click,
            "add_to_cart": self.weight_add_to_cart,
            "purchase": self.weight_purchase,
            "campaign_view": self.weight_campaign_view,
            "campaign_click": self.weight_campaign_click,
        }


class SensorAggregateSettings(BaseModel):
    """Per-sensor rollups and the anomaly rule: |z| above ``anomaly_z`` against an exponentially
    weighted mean and variance (weight ``ewm_alpha`` on the newest reading), once the sensor has
    ``anomaly_min_samples`` readings."""

    window_s: float = Field(default=60.0, gt=0, description="tumbling event-time window")
    anomaly_z: float = Field(default=3.0, gt=0)
    ewm_alpha: float = Field(default=0.05, gt=0, lt=1)
    anomaly_min_samples: int = Field(default=20, ge=2)


class AggregatorSettings(ServiceSettings):
    """user.events and sensor.readings -> engagement scores, sensor rollups and anomalies (Kafka
    and PostgreSQL). E.g. ``AGGREGATOR_ENGAGEMENT__HALF_LIFE_S=3600``."""

    model_config = SettingsConfigDict(
        env_prefix="AGGREGATOR_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: str = "aggregator"
    metrics_port: int = Field(default=9106, ge=0, le=65535)
    # CONSUMER__GROUP_ID, as every consumer service (and tests' namespaces) spell it.
    consumer: StreamProcessorSettings = StreamProcessorSettings()
    postgres: PostgresSettings = PostgresSettings()
    postgres_schema: str = Field(
        default="public",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="schema holding the tables (created if missing)",
    )
    state_dir: Path = Field(
        default=Path(".stack/aggregator-state"),
        description="RocksDB state; losing it costs a rebuild from the changelog topics, not data",
    )
    window_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="a window closes once its partition's event time passes its end by this"
        " much; later events of it are dropped (logged by Quix Streams). It must cover the"
        " event-time drift between input partitions (see aggregator.pipeline)",
    )
    instance_id: str = Field(
        default_factory=socket.gethostname,
        description="stable per replica (pod name): a restart with the same id fences its"
        " predecessor's open transaction instead of waiting for it to time out",
    )
    engagement: EngagementSettings = EngagementSettings()
    sensors: SensorAggregateSettings = SensorAggregateSettings()

    def transactional_id(self) -> str:
        return f"{self.consumer.group_id}.{self.instance_id}"
