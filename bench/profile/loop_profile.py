"""Micro-harness: the consumers' per-record CPU path, stage by stage, without the network.

Feeds N pre-encoded records (real ``confluent_kafka.Message`` objects, built in memory) through
what the loop and the sinks do to each record, and prints microseconds per record per stage:

- ``msg``: the loop's calls on the message (error, topic, partition, offset, value, key);
- ``decode``: ``codec.decode_record`` (strict pydantic ``validate_json``);
- ``sinkrecord``: ``SinkRecord(...)`` construction;
- ``rows`` (sensor): ``sensor_consumer.postgres.batch_rows`` over the batch;
- ``document`` / ``insertone`` (events): ``event_document`` per record, then ``InsertOne(doc)``;
- ``observe``: the end-to-end histogram, one ``observe()`` per record (as ``loop.py`` does).

``--spin SECONDS`` runs the whole path in a loop for that long (for ``py-spy record``).
Run: ``.venv/bin/python bench/profile/loop_profile.py [--only sensor|events] [--n 20000]``.
Not a test: nothing asserts a timing.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Message
from prometheus_client import CollectorRegistry, Histogram

from polystream_common.codec import decode_record
from polystream_common.metrics import LATENCY_BUCKETS
from polystream_common.sink import SinkRecord
from polystream_common.topics import SENSOR_READINGS, USER_EVENTS, Stream

BATCH = 5000  # ConsumerSettings.batch_size default order of magnitude


def clock_from(start: datetime) -> Callable[[], datetime]:
    """A clock that advances 20 us a call: distinct, realistic event times."""
    state = [start]

    def now() -> datetime:
        state[0] += timedelta(microseconds=20)
        return state[0]

    return now


def sensor_values(n: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of ``n`` readings exactly as ``producer load --mix sensors=1`` writes them."""
    from producer.generators import SensorFleet

    fleet = SensorFleet(random.Random(1), clock=clock_from(datetime.now(UTC)))
    return [fleet.encoded() for _ in range(n)]


def event_values(n: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of ``n`` user events as the producer encodes them."""
    from producer.generators import World

    world = World.build(1, clock=clock_from(datetime.now(UTC)))
    events = world.stream("user-events")
    out = []
    for _ in range(n):
        e = next(events)
        out.append((e.key(), Stream.encode(e)))
    return out


def messages(topic: str, pairs: Sequence[tuple[bytes, bytes]]) -> list[Message]:
    return [
        Message(topic=topic, partition=i % 6, offset=i, key=k, value=v)
        for i, (k, v) in enumerate(pairs)
    ]


def new_histogram() -> Any:
    """A fresh child of a histogram shaped like ``END_TO_END_SECONDS`` (own registry)."""
    h = Histogram(
        "e2e",
        "e2e",
        ["service", "topic", "sink"],
        buckets=LATENCY_BUCKETS,
        registry=CollectorRegistry(),
    )
    return h.labels("bench", "t", "s")


# -- stages, each over the whole list of messages -------------------------------------------------


def stage_msg(msgs: list[Message]) -> None:
    for m in msgs:
        m.error()
        m.topic()
        m.partition()
        m.offset()
        m.value()
        m.key()


def stage_decode(stream: Stream[Any], values: list[bytes]) -> list[Any]:
    return [decode_record(stream, v) for v in values]


def stage_sinkrecord(events: list[Any], msgs: list[Message]) -> list[SinkRecord[Any]]:
    return [
        SinkRecord(e, m.topic() or "", m.partition() or 0, m.offset() or 0, m.key())
        for e, m in zip(events, msgs, strict=True)
    ]


def stage_observe(histogram: Any, records: list[SinkRecord[Any]]) -> None:
    now = time.time()
    for record in records:
        histogram.observe(max(0.0, now - record.value.event_time.timestamp()))


def loop_decode(stream: Stream[Any], msgs: list[Message]) -> list[SinkRecord[Any]]:
    """What ``ConsumeLoop._decode`` does per record (no DLQ path: every record is valid)."""
    out = []
    for msg in msgs:
        if msg.error() is not None:
            continue
        topic, partition, offset = msg.topic() or "", msg.partition() or 0, msg.offset() or 0
        event = decode_record(stream, msg.value())
        out.append(SinkRecord(event, topic, partition, offset, msg.key()))
    return out


def timed(fn: Callable[[], Any], n: int, repeat: int) -> tuple[float, Any]:
    """Best of ``repeat`` runs, in CPU us per record (process time: the machine is shared, a run
    descheduled meanwhile does not count the wait); and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.process_time()
        result = fn()
        best = min(best, time.process_time() - t)
    return best / n * 1e6, result


def in_batches(fn: Callable[[list[Any]], Any], items: list[Any]) -> Callable[[], list[Any]]:
    def run() -> list[Any]:
        return [fn(items[i : i + BATCH]) for i in range(0, len(items), BATCH)]

    return run


def profile_sensor(n: int, repeat: int) -> dict[str, float]:
    from sensor_consumer.postgres import batch_rows

    msgs = messages(SENSOR_READINGS.topic, sensor_values(n))
    values = [m.value() for m in msgs]
    hist = new_histogram()
    res: dict[str, float] = {}
    res["msg"], _ = timed(lambda: stage_msg(msgs), n, repeat)
    res["decode"], events = timed(lambda: stage_decode(SENSOR_READINGS, values), n, repeat)
    res["sinkrecord"], records = timed(lambda: stage_sinkrecord(events, msgs), n, repeat)
    res["rows"], _ = timed(in_batches(batch_rows, records), n, repeat)
    res["observe"], _ = timed(lambda: stage_observe(hist, records), n, repeat)
    res["sum"] = sum(res.values())
    res["loop_decode(measured)"], _ = timed(lambda: loop_decode(SENSOR_READINGS, msgs), n, repeat)
    return res


def profile_events(n: int, repeat: int) -> dict[str, float]:
    from pymongo import InsertOne

    from event_consumer.documents import event_document

    msgs = messages(USER_EVENTS.topic, event_values(n))
    values = [m.value() for m in msgs]
    hist = new_histogram()
    now = datetime.now(UTC)
    res: dict[str, float] = {}
    res["msg"], _ = timed(lambda: stage_msg(msgs), n, repeat)
    res["decode"], events = timed(lambda: stage_decode(USER_EVENTS, values), n, repeat)
    res["sinkrecord"], records = timed(lambda: stage_sinkrecord(events, msgs), n, repeat)
    res["document"], docs = timed(lambda: [event_document(r, now) for r in records], n, repeat)
    res["insertone"], _ = timed(lambda: [InsertOne(d) for d in docs], n, repeat)
    res["observe"], _ = timed(lambda: stage_observe(hist, records), n, repeat)
    res["sum"] = sum(res.values())
    res["loop_decode(measured)"], _ = timed(lambda: loop_decode(USER_EVENTS, msgs), n, repeat)
    return res


def spin(only: str, n: int, seconds: float) -> None:
    """The whole per-record path, over and over, for ``py-spy record``."""
    from pymongo import InsertOne

    from event_consumer.documents import event_document
    from sensor_consumer.postgres import batch_rows

    if only == "sensor":
        msgs = messages(SENSOR_READINGS.topic, sensor_values(n))
    else:
        msgs = messages(USER_EVENTS.topic, event_values(n))
    hist = new_histogram()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for i in range(0, n, BATCH):
            chunk = msgs[i : i + BATCH]
            if only == "sensor":
                records = loop_decode(SENSOR_READINGS, chunk)
                batch_rows(records)
            else:
                records = loop_decode(USER_EVENTS, chunk)
                now = datetime.now(UTC)
                [InsertOne(event_document(r, now)) for r in records]
            stage_observe(hist, records)


def set_gc(mode: str) -> None:
    """GC as the services run it (``consumer_main`` raises the generation-0 threshold)."""
    if mode == "service":
        from polystream_common.runtime import GC_GEN0_THRESHOLD

        gc.set_threshold(GC_GEN0_THRESHOLD)
    elif mode == "off":
        gc.disable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["sensor", "events"])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--spin", type=float, default=0.0, help="seconds of the whole path")
    parser.add_argument(
        "--gc",
        choices=["service", "default", "off"],
        default="service",
        help="service: gen-0 threshold of runtime.GC_GEN0_THRESHOLD, as consumer_main sets it",
    )
    args = parser.parse_args()
    set_gc(args.gc)
    if args.spin:
        spin(args.only or "sensor", args.n, args.spin)
        return
    for name, fn in (("sensor", profile_sensor), ("events", profile_events)):
        if args.only in (None, name):
            stages = fn(args.n, args.repeat)
            print(f"{name}: CPU us/record (best of {args.repeat}, n={args.n}, gc {args.gc})")
            for stage, us in stages.items():
                print(f"  {stage:24s} {us:6.2f}")


if __name__ == "__main__":
    main()
