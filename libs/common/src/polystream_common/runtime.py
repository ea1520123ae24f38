"""Entry point shared by the consumer services: settings -> logging -> metrics -> loop.

A service's ``main()`` is ``consumer_main(Settings, bootstrap)``, where ``bootstrap`` is the one
function that picks the service's concrete sinks.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from confluent_kafka import Producer

from polystream_common.backoff import Backoff
from polystream_common.checkpoint import KafkaTransactionalCheckpoint
from polystream_common.kafka import build_admin, build_consumer, transactional_producer_config
from polystream_common.logs import configure_logging
from polystream_common.loop import ConsumeLoop, Route
from polystream_common.metrics import ConsumerMetrics, serve_metrics
from polystream_common.settings import ConsumerServiceSettings
from polystream_common.topics import ensure_topics

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ConsumerServiceSettings)

# A batch holds tens of thousands of objects at once (decoded events, records, rows), all freed by
# reference counting once it is written. At the default generation-0 threshold (700) every batch
# sets off dozens of collections that walk them and the older generations for nothing: a fifth
# of sensor-consumer's CPU, measured. Cyclic garbage is still collected, a little later.
GC_GEN0_THRESHOLD = 50_000


async def retry_until_stopped(
    target: str,
    attempt: Callable[[], Awaitable[Any] | Any],
    metrics: ConsumerMetrics,
    stop: asyncio.Event,
) -> None:
    """Run a start-up step, retrying with backoff while its server is down (visible in metrics).

    Raises ``CancelledError`` if the service is stopped first.
    """
    backoff = Backoff()
    while True:
        try:
            result = attempt()
            if inspect.isawaitable(result):
                await result
            metrics.sink_up(target, True)
            return
        except Exception as exc:
            metrics.retry(target, type(exc).__name__)
            metrics.sink_up(target, False)
            delay = backoff.next_delay()
            log.warning(
                "start-up step failed, retrying", extra={"target": target, "error": repr(exc)}
            )
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                continue
            raise asyncio.CancelledError from exc  # stopped before the server came up


async def run_consumer(settings: ConsumerServiceSettings, routes: Sequence[Route[Any]]) -> None:
    """Run the consumer loop over ``routes`` until SIGTERM/SIGINT; every resource is closed."""
    metrics = ConsumerMetrics(settings.service_name)
    stopping = asyncio.Event()
    loops: list[ConsumeLoop] = []

    def stop() -> None:
        stopping.set()
        for consume_loop in loops:
            consume_loop.stop()

    running_loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        running_loop.add_signal_handler(sig, stop)

    admin = build_admin(settings.kafka)
    streams = [route.stream for route in routes]
    await retry_until_stopped(
        "kafka-topics", lambda: asyncio.to_thread(ensure_topics, admin, streams), metrics, stopping
    )
    async with AsyncExitStack() as resources:
        for route in routes:
            await retry_until_stopped(route.sink.name, route.sink.setup, metrics, stopping)
            resources.push_async_callback(route.sink.close)
        consumer = build_consumer(
            settings.kafka, settings.consumer, settings.service_name, stats_cb=metrics.on_stats
        )
        producer = Producer(
            transactional_producer_config(
                settings.kafka,
                settings.dlq_producer,
                f"{settings.service_name}-checkpoint",
                settings.transactional_id(),
            )
        )
        checkpoint = KafkaTransactionalCheckpoint(producer, consumer, settings.service_name)
        await retry_until_stopped(
            "kafka-transactions", lambda: asyncio.to_thread(checkpoint.init), metrics, stopping
        )
        consume_loop = ConsumeLoop(consumer, routes, checkpoint, settings.consumer, metrics)
        loops.append(consume_loop)
        if stopping.is_set():
            consume_loop.stop()
        log.info("consuming", extra={"topics": [r.stream.topic for r in routes]})
        await consume_loop.run()


def consumer_main(
    settings_factory: Callable[[], S], bootstrap: Callable[[S], Sequence[Route[Any]]]
) -> None:
    """``main()`` of a consumer service: build settings, wire adapters, run until stopped."""
    settings = settings_factory()
    gc.set_threshold(GC_GEN0_THRESHOLD)
    configure_logging(settings.log_level, json=settings.log_json)
    settings.log_effective()
    serve_metrics(settings.metrics_host, settings.metrics_port)
    try:
        asyncio.run(run_consumer(settings, bootstrap(settings)))
    except asyncio.CancelledError:
        log.info("stopped before the servers came up")
