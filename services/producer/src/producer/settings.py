"""Settings of the producer service (env prefix ``PRODUCER_``, nested fields with ``__``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import ProducerSettings, ServiceSettings

DEFAULT_MIX = "sensors=4,user-events=4,chat=1,products=0.2"


class ProducerServiceSettings(ServiceSettings):
    """``run`` reads its rate and mix from here (``PRODUCER_RATE``, ``PRODUCER_MIX``) unless the
    command line gives them; ``load`` and ``ingest`` take theirs from the command line."""

    model_config = SettingsConfigDict(
        env_prefix="PRODUCER_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: str = "producer"
    metrics_port: int = Field(default=9101, ge=0, le=65535)
    producer: ProducerSettings = ProducerSettings()
    rate: float = Field(default=200.0, ge=0, description="records/s of `run`; 0 = flat out")
    mix: str = Field(default=DEFAULT_MIX, description="stream weights of `run`")
    seed: int | None = Field(default=None, description="seed of `run`; none = a fresh one")
