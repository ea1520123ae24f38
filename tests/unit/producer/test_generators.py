"""Generators: deterministic under a seed, realistic, and valid against the consumers' schemas."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from polystream_common.loop import InvalidRecord, decode_record
from polystream_common.schemas import UserEventV2
from polystream_common.topics import SENSOR_READINGS, USER_EVENTS
from producer.generators import SENSOR_PROFILES, World
from producer.load import STREAM_OF_KIND, parse_mix, percentile
from producer.poison import POISON_KINDS, poison

START = datetime(2026, 1, 1, tzinfo=UTC)


def fixed_clock() -> datetime:
    return START


def take(kind: str, n: int, seed: int = 1) -> list[object]:
    return list(itertools.islice(World.build(seed, clock=fixed_clock).stream(kind), n))


@pytest.mark.parametrize("kind", sorted(STREAM_OF_KIND))
def test_same_seed_same_records_other_seed_other_records(kind: str) -> None:
    assert take(kind, 50) == take(kind, 50)
    assert take(kind, 50) != take(kind, 50, seed=2)


@pytest.mark.parametrize("kind", sorted(STREAM_OF_KIND))
def test_every_generated_record_passes_the_consumers_strict_decoding(kind: str) -> None:
    stream = STREAM_OF_KIND[kind]
    for event in take(kind, 300):
        assert stream.decode(stream.encode(event)) == event  # type: ignore[arg-type]


def test_sensor_readings_stay_near_their_type_baseline_with_rare_anomalies() -> None:
    world = World.build(3, clock=fixed_clock)
    readings = [world.sensors.reading() for _ in range(20_000)]
    units = {r.sensor_type: r.unit for r in readings}
    assert units == {t: profile[0] for t, profile in SENSOR_PROFILES.items()}
    outside = 0
    for r in readings:
        _, low, high, noise, _ = SENSOR_PROFILES[r.sensor_type]
        if not low - 10 * noise <= r.value <= high + 10 * noise:
            outside += 1
    assert 0 < outside < 0.01 * len(readings)  # anomalies exist and are rare


def test_user_sessions_form_a_falling_funnel_and_mix_schema_versions() -> None:
    events = take("user-events", 20_000)
    types = Counter(e.event_type for e in events)  # type: ignore[attr-defined]
    assert types["view"] > types["click"] > types["add_to_cart"] > types["purchase"] > 0
    assert types["campaign_view"] >= types["campaign_click"] > 0
    versions = Counter(type(e) for e in events)
    assert 0 < versions[UserEventV2] < len(events)
    purchases = [e for e in events if e.event_type == "purchase"]  # type: ignore[attr-defined]
    assert all(e.price and e.quantity and e.product_id for e in purchases)  # type: ignore[attr-defined]


def test_chat_mentions_the_product_it_is_about() -> None:
    world = World.build(5, clock=fixed_clock)
    names = {p.product_id: p.name for p in world.catalog.products}
    messages = [world.chat.message() for _ in range(200)]
    about_name = sum(names[m.product_id] in m.text for m in messages if m.product_id)
    assert about_name > 50


@pytest.mark.parametrize("kind", POISON_KINDS)
def test_every_poison_kind_is_rejected_by_the_consumer(kind: str) -> None:
    event = take("sensors", 1)[0]
    with pytest.raises(InvalidRecord) as info:
        decode_record(SENSOR_READINGS, poison(SENSOR_READINGS, event, kind))  # type: ignore[arg-type]
    expected = "InvalidJSON" if kind == "malformed-json" else "SchemaViolation"
    assert info.value.error_class == expected


def test_poison_for_user_events_too() -> None:
    event = take("user-events", 1)[0]
    with pytest.raises(InvalidRecord):
        decode_record(USER_EVENTS, poison(USER_EVENTS, event, "wrong-type"))  # type: ignore[arg-type]


def test_mix_parsing_and_errors() -> None:
    assert parse_mix("sensors=2, chat=0.5,products=0") == {"sensors": 2.0, "chat": 0.5}
    with pytest.raises(ValueError, match="unknown stream"):
        parse_mix("weather=1")
    with pytest.raises(ValueError, match="positive"):
        parse_mix("sensors=0")


def test_percentiles_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) == 0.0
    assert START + timedelta(0) == fixed_clock()
