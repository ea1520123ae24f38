"""The composition root of a consumer service, on fakes: start-up, a stop before the servers come
up, shutdown, and the topic namespace."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from polystream_common.loop import Route
from polystream_common.metrics import ConsumerMetrics
from polystream_common.runtime import KafkaClients, StoppedBeforeReady, run_consumer
from polystream_common.schemas import SensorReading, utc_now
from polystream_common.settings import ConsumerServiceSettings, ConsumerSettings, KafkaSettings
from polystream_common.testing import FakeConsumer, InMemorySink, RecordingCheckpoint
from polystream_common.topics import SENSOR_READINGS, Stream


def settings(prefix: str = "") -> ConsumerServiceSettings:
    return ConsumerServiceSettings(
        service_name="runtime-test",
        kafka=KafkaSettings(topic_prefix=prefix),
        consumer=ConsumerSettings(batch_size=10, backoff_initial_s=0.001, backoff_max_s=0.01),
    )


def reading() -> bytes:
    event = SensorReading(
        event_id=uuid.uuid4(),
        event_time=utc_now(),
        sensor_id="s",
        sensor_type="co2",
        location="l",
        unit="ppm",
        value=1.0,
    )
    return event.model_dump_json().encode()


class Fakes:
    """A Kafka side on fakes: the topic ensured, a consumer over ``log``, its checkpoint."""

    def __init__(self, log: dict[tuple[str, int], list[bytes | None]], fail_topics: int = 0):
        self.consumer = FakeConsumer(log)
        self.checkpoint = RecordingCheckpoint(self.consumer)
        self.ensured: list[str] = []
        self.fail_topics = fail_topics

    def clients(self) -> KafkaClients:
        def ensure(streams: Any) -> None:
            if self.fail_topics:
                self.fail_topics -= 1
                raise ConnectionError("broker down")
            self.ensured += [s.topic for s in streams]

        def consumer(_metrics: ConsumerMetrics) -> FakeConsumer:
            return self.consumer

        return KafkaClients(ensure, consumer, lambda _c: self.checkpoint)


async def test_start_up_consumes_under_the_topic_prefix_then_shuts_down_cleanly() -> None:
    topic = f"ns.{SENSOR_READINGS.topic}"
    fakes = Fakes({(topic, 0): [reading(), reading()]}, fail_topics=2)
    sink, stop = InMemorySink(), asyncio.Event()
    fakes.consumer.stop_when_drained = stop.set
    await asyncio.wait_for(
        run_consumer(
            settings("ns."), [Route(SENSOR_READINGS, sink)], clients=fakes.clients(), stop=stop
        ),
        10,
    )
    assert fakes.ensured == [topic]  # retried while the broker was down, then created
    assert fakes.checkpoint.initialised
    assert len(sink.rows) == 2
    assert fakes.consumer.committed == {(topic, 0): 2}
    assert fakes.consumer.closed and sink.closed


async def test_a_stop_before_the_servers_come_up_ends_without_consuming() -> None:
    fakes = Fakes({(SENSOR_READINGS.topic, 0): [reading()]}, fail_topics=10**6)
    sink, stop = InMemorySink(), asyncio.Event()

    async def stop_soon() -> None:
        await asyncio.sleep(0.05)
        stop.set()

    with pytest.raises(StoppedBeforeReady):
        await asyncio.gather(
            run_consumer(
                settings(), [Route(SENSOR_READINGS, sink)], clients=fakes.clients(), stop=stop
            ),
            stop_soon(),
        )
    assert sink.rows == {} and not fakes.checkpoint.initialised


async def test_a_sink_that_cannot_set_up_is_retried_and_closed_on_shutdown() -> None:
    class LateSink(InMemorySink):
        tries = 0

        async def setup(self) -> None:
            self.tries += 1
            if self.tries < 3:
                raise ConnectionError("store not up yet")

    topic = SENSOR_READINGS.topic
    fakes = Fakes({(topic, 0): [reading()]})
    sink, stop = LateSink(), asyncio.Event()
    fakes.consumer.stop_when_drained = stop.set
    await asyncio.wait_for(
        run_consumer(
            settings(), [Route(SENSOR_READINGS, sink)], clients=fakes.clients(), stop=stop
        ),
        10,
    )
    assert sink.tries == 3 and len(sink.rows) == 1 and sink.closed


def test_a_wiring_the_loop_cannot_honour_is_refused_before_anything_starts() -> None:
    fakes = Fakes({})
    stream: Stream[Any] = SENSOR_READINGS
    with pytest.raises(ValueError, match="twice"):
        asyncio.run(
            run_consumer(
                settings(),
                [Route(stream, InMemorySink("a")), Route(stream, InMemorySink("a"))],
                clients=fakes.clients(),
                stop=asyncio.Event(),
            )
        )
    assert fakes.ensured == []
