"""Settings of lake-writer (env prefix ``LAKE_WRITER_``; the lake's URI is
``LAKE_WRITER_LAKE__URI``)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import ConsumerServiceSettings, ConsumerSettings
from polystream_lake import LakeSettings


class CompactionSettings(BaseModel):
    """What ``python -m lake_writer compact`` takes: directories of dates at least
    ``min_days_old`` days before today (UTC), files last written at least ``min_age_minutes``
    ago (settled: the writer is done with them)."""

    min_days_old: int = Field(default=1, ge=0, description="1: every date before today")
    min_age_minutes: float = Field(default=30.0, ge=0)


class LakeWriterSettings(ConsumerServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LAKE_WRITER_")

    service_name: str = "lake-writer"
    metrics_port: int = 9107
    # A file per (stream, date, partition, version) of each batch: batches gathered for up to
    # 30 s (or 50k records) make files of hundreds of KB instead of a few rows each.
    consumer: ConsumerSettings = ConsumerSettings(
        batch_size=50_000, batch_timeout_s=30.0, pipelined=False
    )
    lake: LakeSettings = LakeSettings()
    compaction: CompactionSettings = CompactionSettings()
