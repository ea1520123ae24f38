"""Entry point shared by the consumer services: settings -> logging -> metrics -> loop.

A service's ``main()`` is ``consumer_main(Settings, bootstrap)``, where ``bootstrap`` is the one
function that picks the service's concrete sinks. :func:`run_consumer` is the composition root of
the Kafka side: it takes the clients it needs as :class:`KafkaClients`, the real ones by default,
so tests drive start-up, a stop before the servers come up and shutdown on fakes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import Producer
from tenacity import AsyncRetrying, RetryCallState

from polystream_common.checkpoint import (
    Checkpoint,
    FatalCheckpointError,
    KafkaTransactionalCheckpoint,
)
from polystream_common.kafka import build_admin, build_consumer, transactional_producer_config
from polystream_common.logs import configure_logging
from polystream_common.loop import (
    ConsumeLoop,
    FatalSinkError,
    KafkaConsumerPort,
    Route,
    backoff,
    check_routes,
)
from polystream_common.metrics import ConsumerMetrics, serve_metrics
from polystream_common.settings import ConsumerServiceSettings, ConsumerSettings
from polystream_common.topics import Stream, ensure_topics

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ConsumerServiceSettings)
T = TypeVar("T")

# A batch holds tens of thousands of objects at once (decoded events, records, rows), all freed by
# reference counting once it is written. At the default generation-0 threshold (700) every batch
# sets off dozens of collections that walk them and the older generations for nothing: a fifth
# of sensor-consumer's CPU, measured. Cyclic garbage is still collected, a little later.
GC_GEN0_THRESHOLD = 50_000
EXIT_FATAL = 70  # EX_SOFTWARE: the supervisor restarts the service, an alert fires


class StoppedBeforeReady(Exception):
    """The service was stopped while a server it needs at start was still down."""


@dataclass(frozen=True)
class KafkaClients:
    """How :func:`run_consumer` gets its Kafka side; :meth:`real` builds the production ones."""

    ensure_topics: Callable[[Sequence[Stream[Any]]], None]
    consumer: Callable[[ConsumerMetrics], KafkaConsumerPort]
    checkpoint: Callable[[KafkaConsumerPort], Checkpoint]

    @classmethod
    def real(cls, settings: ConsumerServiceSettings) -> KafkaClients:
        def topics(streams: Sequence[Stream[Any]]) -> None:
            ensure_topics(build_admin(settings.kafka), streams)

        def consumer(metrics: ConsumerMetrics) -> KafkaConsumerPort:
            built: KafkaConsumerPort = build_consumer(
                settings.kafka, settings.consumer, settings.service_name, stats_cb=metrics.on_stats
            )
            return built

        def checkpoint(consumer: KafkaConsumerPort) -> Checkpoint:
            producer = Producer(
                transactional_producer_config(
                    settings.kafka,
                    settings.dlq_producer,
                    f"{settings.service_name}-checkpoint",
                    settings.transactional_id(),
                )
            )
            return KafkaTransactionalCheckpoint(producer, consumer, settings.service_name)

        return cls(topics, consumer, checkpoint)


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return


async def retry_until_stopped(
    target: str,
    attempt: Callable[[], Awaitable[T]],
    metrics: ConsumerMetrics,
    stop: asyncio.Event,
    settings: ConsumerSettings,
) -> T:
    """Run a start-up step, retrying with backoff while its server is down (visible in metrics),
    and return what it returned.

    Raises :class:`StoppedBeforeReady` if the service is stopped first.
    """

    def on_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        metrics.failing(target, exc)
        log.warning("start-up step failed, retrying", extra={"target": target, "error": repr(exc)})

    async def sleep(seconds: float) -> None:
        await sleep_unless_stopped(stop, seconds)

    retrying = AsyncRetrying(
        wait=backoff(settings),
        stop=lambda _state: stop.is_set(),
        sleep=sleep,
        before_sleep=on_retry,
        reraise=True,
    )

    async def call() -> T:  # tenacity awaits only coroutine functions, not lambdas
        return await attempt()

    if stop.is_set():
        raise StoppedBeforeReady(target)
    try:
        result: T = await retrying(call)
    except Exception as exc:
        if stop.is_set():
            raise StoppedBeforeReady(target) from exc
        raise
    metrics.sink_up(target, True)
    return result


async def run_consumer(
    settings: ConsumerServiceSettings,
    routes: Sequence[Route[Any]],
    *,
    clients: KafkaClients | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the consumer loop over ``routes`` until ``stop`` is set (SIGTERM/SIGINT set it when
    no ``stop`` is given); every resource is closed on the way out.

    Routes are put under ``settings.kafka.topic_prefix`` here, so no bootstrap has to.
    """
    routes = [route.namespaced(settings.kafka.topic_prefix) for route in routes]
    check_routes(routes)
    clients = clients or KafkaClients.real(settings)
    metrics = ConsumerMetrics(settings.service_name)
    stopping = stop or asyncio.Event()
    loops: list[ConsumeLoop] = []

    def request_stop() -> None:
        stopping.set()

    if stop is None:
        running_loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            running_loop.add_signal_handler(sig, request_stop)

    async def stop_loops() -> None:
        await stopping.wait()
        for consume_loop in loops:
            consume_loop.stop()

    watcher = asyncio.create_task(stop_loops())
    try:
        streams = list({route.stream.topic: route.stream for route in routes}.values())
        await retry_until_stopped(
            "kafka-topics",
            lambda: asyncio.to_thread(clients.ensure_topics, streams),
            metrics,
            stopping,
            settings.consumer,
        )
        async with AsyncExitStack() as resources:
            for sink in {id(route.sink): route.sink for route in routes}.values():
                await retry_until_stopped(
                    sink.name, sink.setup, metrics, stopping, settings.consumer
                )
                resources.push_async_callback(sink.close)
            consumer = clients.consumer(metrics)
            checkpoint = clients.checkpoint(consumer)
            await retry_until_stopped(
                "kafka-transactions",
                lambda: asyncio.to_thread(checkpoint.init),
                metrics,
                stopping,
                settings.consumer,
            )
            consume_loop = ConsumeLoop(consumer, routes, checkpoint, settings.consumer, metrics)
            loops.append(consume_loop)
            if stopping.is_set():
                consume_loop.stop()
            log.info("consuming", extra={"topics": sorted({r.stream.topic for r in routes})})
            await consume_loop.run()
    finally:
        watcher.cancel()


def consumer_main(
    settings_factory: Callable[[], S], bootstrap: Callable[[S], Sequence[Route[Any]]]
) -> None:
    """``main()`` of a consumer service: build settings, wire adapters, run until stopped.

    Exits with :data:`EXIT_FATAL` after an error that is not its records' (a sink failing every
    record, a fenced producer), logged as CRITICAL, so a supervisor restarts it and alerts fire.
    """
    settings = settings_factory()
    gc.set_threshold(GC_GEN0_THRESHOLD)
    configure_logging(settings.log_level, json=settings.log_json)
    settings.log_effective()
    serve_metrics(settings.metrics_host, settings.metrics_port)
    try:
        asyncio.run(run_consumer(settings, bootstrap(settings)))
    except StoppedBeforeReady as exc:
        log.info("stopped before the servers came up", extra={"waiting_for": str(exc)})
    except (FatalSinkError, FatalCheckpointError) as exc:
        log.critical("fatal error, stopping: restart me", extra={"error": str(exc)})
        sys.exit(EXIT_FATAL)
