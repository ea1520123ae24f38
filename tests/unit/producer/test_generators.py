"""Generators: deterministic under a seed, realistic, and valid against the consumers' schemas."""

from __future__ import annotations

import itertools
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from polystream_common.schemas import ChatMessage, Product, SensorReading, UserEventV2
from polystream_common.topics import SENSOR_READINGS
from producer.generators import (
    COLD_ROOM,
    SENSOR_PROFILES,
    STREAM_KINDS,
    Catalog,
    World,
    iso_time,
    uuid4_text,
)
from producer.load import STREAM_OF_KIND
from producer.vocabulary import CATEGORIES

START = datetime(2026, 1, 1, tzinfo=UTC)


def fixed_clock() -> datetime:
    return START


def ticking_clock(step: timedelta = timedelta(microseconds=250_000)) -> Callable[[], datetime]:
    """A clock that moves ``step`` per call: fractions of a second and whole seconds both occur."""
    ticks = itertools.count()
    return lambda: START + next(ticks) * step


def take(kind: str, n: int, seed: int = 1) -> list[Any]:
    return list(itertools.islice(World.build(seed, clock=fixed_clock).stream(kind), n))


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_same_seed_same_records_other_seed_other_records(kind: str) -> None:
    assert take(kind, 200) == take(kind, 200)
    assert take(kind, 200) != take(kind, 200, seed=2)


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_every_generated_record_passes_the_consumers_strict_decoding(kind: str) -> None:
    stream = STREAM_OF_KIND[kind]
    events = take(kind, 500)
    assert len({e.event_id for e in events}) == len(events)
    for event in events:
        assert stream.decode(stream.encode(event)) == event


def test_fast_sensor_encoding_gives_the_bytes_of_the_schema_encoding() -> None:
    models = World.build(9, clock=ticking_clock()).sensors
    fast = World.build(9, clock=ticking_clock()).sensors
    for _ in range(5_000):
        reading = models.reading()
        key, value = fast.encoded()
        assert key == reading.key()
        assert value == SENSOR_READINGS.encode(reading)


def test_uuid_and_time_text_match_the_standard_library_and_pydantic() -> None:
    rng = random.Random(3)
    for _ in range(2_000):
        bits = rng.getrandbits(128)
        assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))
    assert iso_time(START) == "2026-01-01T00:00:00Z"
    assert iso_time(START + timedelta(microseconds=5_000)) == "2026-01-01T00:00:00.005000Z"


def test_sensor_readings_have_units_physical_ranges_and_rare_anomalies() -> None:
    fleet = World.build(3, clock=fixed_clock).sensors
    readings = [fleet.reading() for _ in range(40_000)]
    units = {r.sensor_type: r.unit for r in readings}
    assert units == {"temperature": "°C", "humidity": "%", "pressure": "hPa", "co2": "ppm"} | {
        "vibration": "mm/s"
    }
    spikes = 0
    for r in readings:
        sensor = next(s for s in fleet.sensors if s.sensor_id == r.sensor_id)
        profile = sensor.profile
        assert profile.floor <= r.value <= profile.ceiling
        if abs(r.value - sensor.baseline) > 8 * profile.noise:
            spikes += 1
    assert 0 < spikes < 0.01 * len(readings)  # anomalies exist and are rare
    humidity = [r.value for r in readings if r.sensor_type == "humidity"]
    assert min(humidity) >= 0 and max(humidity) <= 100


def test_cold_rooms_are_cold_and_readings_drift() -> None:
    fleet = World.build(4, clock=fixed_clock).sensors
    cold = [
        s for s in fleet.sensors if s.sensor_type == "temperature" and "cold-room" in s.location
    ]
    assert cold and all(s.profile is COLD_ROOM for s in cold)
    warm = [s for s in fleet.sensors if s.sensor_type == "temperature" and s not in cold]
    assert all(s.profile is SENSOR_PROFILES["temperature"] for s in warm)
    for _ in range(20_000):
        fleet.reading()
    assert any(abs(s.level - s.baseline) > 0.001 for s in fleet.sensors)


def test_user_sessions_form_a_falling_funnel_and_mix_schema_versions() -> None:
    events = take("user-events", 30_000)
    types = Counter(e.event_type for e in events)
    assert types["view"] >= types["click"] >= types["add_to_cart"] >= types["purchase"] > 0
    assert types["view"] > types["purchase"] * 5  # conversion falls step by step
    assert types["campaign_view"] >= types["campaign_click"] > 0
    assert all(e.campaign_id for e in events if e.event_type.startswith("campaign_"))

    steps: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in events:
        if e.product_id:
            steps[e.session_id, e.product_id].append(e.event_type)
    funnel = ["view", "click", "add_to_cart", "purchase"]
    for sequence in steps.values():  # each product funnel is a prefix of the full one, repeated
        for i, step in enumerate(sequence):
            assert step == "view" or sequence[i - 1] == funnel[funnel.index(step) - 1]

    purchases = [e for e in events if e.event_type == "purchase"]
    assert all(e.price and e.quantity and e.product_id for e in purchases)
    v2 = [e for e in events if isinstance(e, UserEventV2)]
    assert 0 < len(v2) < len(events) and all(e.device for e in v2)
    versions_of_user: dict[str, set[int]] = defaultdict(set)
    for e in events:
        versions_of_user[e.user_id].add(e.schema_version)
    assert all(len(v) == 1 for v in versions_of_user.values())  # a user's app sends one version


def test_products_have_category_vocabulary_prices_and_varied_names() -> None:
    catalog = Catalog(random.Random(5), clock=fixed_clock)
    products = catalog.products
    assert {p.category for p in products} == {c.name for c in CATEGORIES}
    assert len({p.name for p in products}) > 0.8 * len(products)
    assert len({p.description for p in products}) == len(products)
    for product in products:
        category, kind = catalog.kind_of(product)
        assert product.category == category.name and product.name.endswith(kind.noun)
        text = product.description.lower()
        # a synonym or the kind's own name: "running shoes" also read as "marathon footwear"
        assert any(word in text for word in (kind.noun, *kind.synonyms))
        assert 5 <= product.price <= 400
        assert category.name in product.tags


def test_catalog_stream_publishes_every_product_then_price_updates() -> None:
    catalog = Catalog(random.Random(6), products=30, clock=fixed_clock)
    published: list[Product] = list(itertools.islice(catalog, 130))
    assert published[:30] == catalog.products
    for update in published[30:]:
        original = next(p for p in catalog.products if p.product_id == update.product_id)
        assert update.name == original.name and update.event_id != original.event_id
        assert 0.89 * original.price <= update.price <= 1.11 * original.price


def test_chat_messages_talk_about_products_in_conversations() -> None:
    world = World.build(5, clock=fixed_clock)
    products = {p.product_id: p for p in world.catalog.products}
    messages: list[ChatMessage] = [world.chat.message() for _ in range(2_000)]
    by_conversation: dict[str, list[ChatMessage]] = defaultdict(list)
    for m in messages:
        by_conversation[m.conversation_id].append(m)
        assert m.product_id in products
    assert any(len(ms) >= 3 for ms in by_conversation.values())
    for ms in by_conversation.values():  # one user, one product per conversation
        assert len({m.user_id for m in ms}) == 1 and len({m.product_id for m in ms}) == 1
    mentions = 0
    for m in messages:
        product = products[m.product_id or ""]
        _, kind = world.catalog.kind_of(product)
        words = (product.name, product.category, kind.noun, *kind.synonyms)
        mentions += any(w in m.text for w in words)
    assert mentions > 0.7 * len(messages)


def test_readings_are_schema_objects_with_the_clock_time() -> None:
    reading = take("sensors", 1)[0]
    assert isinstance(reading, SensorReading) and reading.event_time == START
