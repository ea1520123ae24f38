"""The one place that picks lake-writer's concrete adapters."""

from __future__ import annotations

from typing import Any

from lake_writer.settings import LakeWriterSettings
from lake_writer.sink import LakeSink
from polystream_common.loop import Route
from polystream_lake import LAKE_STREAMS, LakeLocation, open_lake


def bootstrap(
    settings: LakeWriterSettings, location: LakeLocation | None = None
) -> list[Route[Any]]:
    """One route per stream of the lake, all into the same lake (opened, not connected)."""
    lake = location or open_lake(settings.lake)
    return [
        Route(stream.stream, LakeSink(lake, stream, settings.service_name))
        for stream in LAKE_STREAMS
    ]
