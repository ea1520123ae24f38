"""The Quix sinks around the PostgreSQL writer, on a fake writer: what reaches it, and a database
that is down turning into backpressure (the checkpoint replayed), not a crash."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from aggregator.metrics import ROWS, AggregatorMetrics
from aggregator.postgres import AggregateWriter, RollupSink, _last_by_key
from quixstreams.sinks import SinkBackpressureError, SinkBatch


class FakeWriter(AggregateWriter):
    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.written: list[Mapping[str, Any]] = []
        self.closed = 0

    async def write_rollups(self, rollups: Iterable[Mapping[str, Any]]) -> int:
        if self.fail is not None:
            raise self.fail
        rows = list(rollups)
        self.written.extend(rows)
        return len(rows)

    async def close(self) -> None:
        self.closed += 1


def batch(*values: dict[str, Any]) -> SinkBatch:
    sink_batch = SinkBatch(topic="t", partition=0)
    for offset, value in enumerate(values):
        sink_batch.append(value=value, key=b"k", timestamp=0, headers=[], offset=offset)
    return sink_batch


def test_rows_reach_the_writer_and_are_counted() -> None:
    writer = FakeWriter()
    sink = RollupSink(writer, AggregatorMetrics(), retry_after_s=1.0)
    sink.setup()
    before = ROWS.labels("sensor_rollups")._value.get()
    sink.write(batch({"sensor_id": "s1"}, {"sensor_id": "s2"}))
    assert [r["sensor_id"] for r in writer.written] == ["s1", "s2"]
    assert ROWS.labels("sensor_rollups")._value.get() == before + 2
    sink.close()
    assert writer.closed == 1


@pytest.mark.parametrize("error", [ConnectionRefusedError(), TimeoutError()])
def test_a_database_that_is_down_is_backpressure(error: BaseException) -> None:
    writer = FakeWriter(fail=error)
    sink = RollupSink(writer, AggregatorMetrics(), retry_after_s=2.5)
    sink.setup()
    with pytest.raises(SinkBackpressureError) as raised:
        sink.write(batch({"sensor_id": "s1"}))
    assert raised.value.retry_after == 2.5
    assert writer.closed == 1  # the next write reconnects


def test_other_errors_are_not_swallowed() -> None:
    sink = RollupSink(FakeWriter(fail=ValueError("bug")), AggregatorMetrics(), 1.0)
    sink.setup()
    with pytest.raises(ValueError, match="bug"):
        sink.write(batch({"sensor_id": "s1"}))


def test_one_row_per_key_the_last_one() -> None:
    rows = [{"k": 1, "v": "a"}, {"k": 2, "v": "b"}, {"k": 1, "v": "c"}]
    assert _last_by_key(rows, ("k",)) == [{"k": 1, "v": "c"}, {"k": 2, "v": "b"}]
