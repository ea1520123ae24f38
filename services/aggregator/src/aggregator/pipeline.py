"""The aggregator's dataflow on Quix Streams, and why it is exact after a crash.

\b
user.events --decode--> events --(product, campaign)--> group_by entity (repartition topic)
    --> tumbling window: counts by event type --final--> fold into the decayed score (state)
    --> engagement.scores (Kafka) + engagement_windows, engagement_scores (PostgreSQL)
sensor.readings --decode--> readings --> tumbling window: count/min/max/sum --final-->
    sensor.rollups (Kafka) + sensor_rollups (PostgreSQL)
  readings --> EWM mean/variance (state) --|z| > limit--> sensor.anomalies
either input --invalid--> <topic>.dlq (original bytes, origin and error headers)

Windows are by event time (the record's ``event_time``, set as the Kafka timestamp before the
repartition) and aligned on the epoch. A window closes when its partition's event time passes
its end by the grace period (``closing_strategy="partition"``: one later record closes every
key's window on that partition); only then is it emitted, once, as its final value. A record of
a closed window is late: Quix Streams drops it with a WARNING log line. Records of one entity
reach its repartition partition from every input partition, so the grace must cover how far
input partitions drift apart in event time, which is small when the service keeps up and can
reach the backlog's span while it catches up after downtime (the e2e test closes its last
windows only once caught up for this reason).

Exactly once, the contract: ``processing_guarantee="exactly-once"``. Each checkpoint (every
``commit_interval_s``) 1. flushes the PostgreSQL sinks (upserts by window key), 2. produces the
state changes to the changelog topics, 3. commits one Kafka transaction holding the outputs
(repartitioned records, scores, rollups, anomalies, dead letters), the changelogs and the input
offsets. A SIGKILL before 3 aborts the transaction: outputs, state and offsets roll back together,
and the restart (state rebuilt from RocksDB or the changelog) replays the same records to the
same windows, whose final values the sinks upsert again, unchanged. Readers of the output topics
must read ``read_committed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from quixstreams import Application, State, message_context
from quixstreams.dataframe import StreamingDataFrame
from quixstreams.kafka import ConnectionConfig
from quixstreams.models import TopicConfig, TopicManager

from aggregator.dead_letters import decode_or_reject
from aggregator.engagement import (
    Score,
    count_first,
    count_more,
    epoch_ms,
    fold_window,
    from_epoch_ms,
    interactions,
    split_entity_key,
)
from aggregator.metrics import AggregatorMetrics
from aggregator.sensors import EwmStats, observe, rollup_first, rollup_more, rollup_row
from aggregator.settings import AggregatorSettings
from aggregator.topic_admin import SettledTopicAdmin
from polystream_common.dlq import DeadLetter
from polystream_common.schemas import Event, SensorReading
from polystream_common.topics import SENSOR_READINGS, USER_EVENTS, Stream

ENGAGEMENT_SCORES = "engagement.scores"
SENSOR_ROLLUPS = "sensor.rollups"
SENSOR_ANOMALIES = "sensor.anomalies"
OUTPUT_PARTITIONS = 6
SERVICE = "aggregator"
KeySerializer = Literal["str", "bytes"]
E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Sinks:
    """Where the closed windows go besides Kafka (the PostgreSQL sinks in production)."""

    engagement: Any
    rollups: Any


def build_application(
    settings: AggregatorSettings, sinks: Sinks, metrics: AggregatorMetrics
) -> Application:
    """The Quix Streams application with both dataflows wired; ``run()`` runs it until SIGTERM."""
    consumer = settings.consumer
    broker = ConnectionConfig.from_librdkafka_dict(settings.kafka.client_config())
    app = Application(
        broker_address=broker,
        consumer_group=consumer.group_id,
        auto_offset_reset=consumer.auto_offset_reset,
        commit_interval=consumer.commit_interval_s,
        processing_guarantee="exactly-once",
        state_dir=settings.state_dir,
        consumer_extra_config={
            "client.id": settings.service_name,
            "session.timeout.ms": consumer.session_timeout_ms,
            "max.poll.interval.ms": consumer.max_poll_interval_ms,
        },
        producer_extra_config={
            "client.id": settings.service_name,
            # Stable per replica: a restart fences its predecessor's open transaction at once.
            "transactional.id": settings.transactional_id(),
        },
        loglevel=None,  # main() configures logging
        topic_manager=TopicManager(
            topic_admin=SettledTopicAdmin(broker_address=broker), consumer_group=consumer.group_id
        ),
    )
    prefix = settings.kafka.topic_prefix
    engagement_dataflow(app, settings, USER_EVENTS.namespaced(prefix), sinks.engagement, metrics)
    sensor_dataflow(app, settings, SENSOR_READINGS.namespaced(prefix), sinks.rollups, metrics)
    return app


def _output(app: Application, name: str, prefix: str, key_serializer: KeySerializer) -> Any:
    """An output topic; keys as read (sensor ids: bytes) or made (entity keys: str)."""
    return app.topic(
        f"{prefix}{name}",
        key_serializer=key_serializer,
        value_serializer="json",
        config=TopicConfig(num_partitions=OUTPUT_PARTITIONS, replication_factor=1),
    )


def decoded(
    app: Application,
    stream: Stream[E],
    metrics: AggregatorMetrics,
    compact: Callable[[E], Any],
) -> StreamingDataFrame:
    """The stream's valid events as ``(event_time_ms, compact(event))``, with the event time as
    the timestamp; invalid records branch off to the stream's DLQ topic (in the same transaction).

    Quix Streams copies a value (pickles it) for each branch past the first, so what crosses the
    branch is a small tuple of primitives, not the pydantic model: copying the models cost a
    quarter of the service's CPU, measured with py-spy."""
    source = app.topic(stream.topic, key_deserializer="bytes", value_deserializer="bytes")
    dlq = app.topic(stream.dlq_topic, key_serializer="bytes", value_serializer="bytes")
    topic = stream.topic

    def decode(raw: bytes | None, key: bytes | None, _ts: int, _headers: Any) -> Any:
        ctx = message_context()
        result = decode_or_reject(stream, raw, key, ctx.partition, ctx.offset)
        if isinstance(result, DeadLetter):
            metrics.dead_letter(topic, result.error_class)
            return result
        metrics.event(topic)
        return epoch_ms(result.event_time), compact(result)

    checked = app.dataframe(source).apply(decode, metadata=True)
    rejected = checked.filter(lambda value: isinstance(value, DeadLetter))
    rejected = rejected.set_headers(lambda letter, _k, _ts, _h: letter.headers(SERVICE))
    rejected = rejected.apply(lambda letter: letter.value)
    rejected.to_topic(dlq)
    events = checked.filter(lambda value: not isinstance(value, DeadLetter))
    return events.set_timestamp(lambda event, _key, _ts, _headers: event[0])


def engagement_dataflow(
    app: Application,
    settings: AggregatorSettings,
    stream: Stream[Any],
    sink: Any,
    metrics: AggregatorMetrics,
) -> StreamingDataFrame:
    config = settings.engagement
    weights = config.weights()
    half_life_ms = config.half_life_s * 1000

    def score(
        window: dict[str, Any], key: str, _ts: int, _headers: Any, state: State[Any, Any]
    ) -> Any:
        entity_type, entity_id = split_entity_key(key)
        counts = window["value"]
        folded = fold_window(
            Score.from_state(state.get("score")), window["end"], counts, weights, half_life_ms
        )
        state.set("score", folded.to_state())
        metrics.window("engagement")
        return {
            "entity_type": entity_type,
            "entity_id": entity_id,
            "window_start_ms": window["start"],
            "window_end_ms": window["end"],
            "counts": counts,
            "score": folded.score,
            "as_of_ms": folded.as_of_ms,
            "half_life_s": config.half_life_s,
            "totals": folded.totals,
        }

    by_entity = (
        decoded(app, stream, metrics, interactions)
        .apply(_payload, expand=True)
        .group_by(_entity, name="entity", key_serializer="str", key_deserializer="str")
    )
    windows = (
        by_entity.tumbling_window(
            duration_ms=_ms(config.window_s), grace_ms=_ms(settings.window_grace_s)
        )
        .reduce(reducer=count_more, initializer=count_first)
        .final(closing_strategy="partition")
    )
    scores = windows.apply(score, stateful=True, metadata=True)
    scores.to_topic(_output(app, ENGAGEMENT_SCORES, settings.kafka.topic_prefix, "str"))
    scores.sink(sink)
    return scores


def sensor_dataflow(
    app: Application,
    settings: AggregatorSettings,
    stream: Stream[Any],
    sink: Any,
    metrics: AggregatorMetrics,
) -> StreamingDataFrame:
    config = settings.sensors
    prefix = settings.kafka.topic_prefix

    def rollup(window: dict[str, Any], key: bytes, _ts: int, _headers: Any) -> Any:
        metrics.window("sensor_rollup")
        return rollup_row(key.decode(), window["start"], window["end"], window["value"])

    def score(reading: tuple[int, CompactReading], state: State[Any, Any]) -> Any:
        event_time_ms, (sensor_id, event_id, value) = reading
        stats, verdict = observe(
            EwmStats.from_state(state.get("ewm")),
            value,
            config.ewm_alpha,
            config.anomaly_min_samples,
        )
        state.set("ewm", stats.to_state())
        if not verdict.is_anomaly(config.anomaly_z):
            return None
        metrics.anomaly()
        return {
            "sensor_id": sensor_id,
            "event_id": event_id,
            "event_time": from_epoch_ms(event_time_ms).isoformat(),
            "value": value,
            "mean": verdict.mean,
            "stddev": verdict.stddev,
            "z": verdict.z,
        }

    readings = decoded(app, stream, metrics, _compact_reading)
    rollups = (
        readings.apply(_value)
        .tumbling_window(duration_ms=_ms(config.window_s), grace_ms=_ms(settings.window_grace_s))
        .reduce(reducer=rollup_more, initializer=rollup_first)
        .final(closing_strategy="partition")
        .apply(rollup, metadata=True)
    )
    rollups.to_topic(_output(app, SENSOR_ROLLUPS, prefix, "bytes"))
    rollups.sink(sink)
    anomalies = readings.apply(score, stateful=True).filter(_is_not_none)
    anomalies.to_topic(_output(app, SENSOR_ANOMALIES, prefix, "bytes"))
    return rollups


def _entity(interaction: dict[str, str]) -> str:
    return interaction["entity"]


CompactReading = tuple[str, str, float]
"""(sensor_id, event_id, value)."""


def _compact_reading(reading: SensorReading) -> CompactReading:
    return reading.sensor_id, str(reading.event_id), reading.value


def _payload(event: tuple[int, Any]) -> Any:
    return event[1]


def _value(reading: tuple[int, CompactReading]) -> float:
    return reading[1][2]


def _is_not_none(value: object) -> bool:
    return value is not None


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
