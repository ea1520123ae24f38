"""Entry point shared by the consumer services: settings -> logging -> metrics -> loop.

A service's ``main()`` is ``consumer_main(Settings, bootstrap)``, where ``bootstrap`` is the one
function that picks the service's concrete sinks.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from polystream_common.backoff import Backoff
from polystream_common.dlq import KafkaDeadLetters
from polystream_common.kafka import EventProducer, build_admin, build_consumer
from polystream_common.logs import configure_logging
from polystream_common.loop import ConsumeLoop, Route
from polystream_common.metrics import ConsumerMetrics, serve_metrics
from polystream_common.settings import ConsumerServiceSettings
from polystream_common.sink import Sink
from polystream_common.topics import ensure_topics

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ConsumerServiceSettings)


async def setup_with_backoff(
    sink: Sink[Any], metrics: ConsumerMetrics, stop: asyncio.Event
) -> None:
    """Connect a sink, retrying with backoff while its store is down (visible in metrics)."""
    backoff = Backoff()
    while True:
        try:
            await sink.setup()
            metrics.sink_up(sink.name, True)
            return
        except Exception as exc:
            metrics.retry(sink.name, type(exc).__name__)
            metrics.sink_up(sink.name, False)
            delay = backoff.next_delay()
            log.warning(
                "sink setup failed, retrying", extra={"sink": sink.name, "error": repr(exc)}
            )
            try:
                await asyncio.wait_for(stop.wait(), delay)
                raise asyncio.CancelledError  # stopped before the store came up
            except TimeoutError:
                pass


async def run_consumer(settings: ConsumerServiceSettings, routes: Sequence[Route[Any]]) -> None:
    """Run the consumer loop over ``routes`` until SIGTERM/SIGINT; every resource is closed."""
    metrics = ConsumerMetrics(settings.service_name)
    stopping = asyncio.Event()
    loop_ref: list[ConsumeLoop] = []

    def stop() -> None:
        stopping.set()
        for consume_loop in loop_ref:
            consume_loop.stop()

    running_loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        running_loop.add_signal_handler(sig, stop)

    await asyncio.to_thread(
        ensure_topics, build_admin(settings.kafka), [route.stream for route in routes]
    )
    async with AsyncExitStack() as resources:
        for route in routes:
            await setup_with_backoff(route.sink, metrics, stopping)
            resources.push_async_callback(route.sink.close)
        producer = EventProducer.build(
            settings.kafka,
            settings.dlq_producer,
            client_id=f"{settings.service_name}-dlq",
            service=settings.service_name,
        )
        resources.callback(producer.flush)
        consumer = build_consumer(
            settings.kafka, settings.consumer, settings.service_name, stats_cb=metrics.on_stats
        )
        consume_loop = ConsumeLoop(
            consumer,
            routes,
            KafkaDeadLetters(producer, settings.service_name),
            settings.consumer,
            metrics,
        )
        loop_ref.append(consume_loop)
        if stopping.is_set():
            consume_loop.stop()
        log.info("consuming", extra={"topics": [r.stream.topic for r in routes]})
        await consume_loop.run()


def consumer_main(
    settings_factory: Callable[[], S], bootstrap: Callable[[S], Sequence[Route[Any]]]
) -> None:
    """``main()`` of a consumer service: build settings, wire adapters, run until stopped."""
    settings = settings_factory()
    configure_logging(settings.log_level, json=settings.log_json)
    settings.log_effective()
    serve_metrics(settings.metrics_host, settings.metrics_port)
    try:
        asyncio.run(run_consumer(settings, bootstrap(settings)))
    except asyncio.CancelledError:
        log.info("stopped before the sinks came up")
