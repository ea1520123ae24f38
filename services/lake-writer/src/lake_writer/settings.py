"""Settings of lake-writer (env prefix ``LAKE_WRITER_``; the lake's URI is
``LAKE_WRITER_LAKE__URI``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from polystream_common.settings import ConsumerServiceSettings, ConsumerSettings
from polystream_lake import CompactionSettings, LakeSettings


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
