"""Synthetic, realistic and deterministic (under a seed) generators for the four streams.

Every generator draws from its own ``random.Random`` and takes a ``clock``, so a seed and a fixed
clock give the same records every time, event ids included.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from polystream_common.schemas import (
    DEVICES,
    ChatMessage,
    Event,
    Product,
    SensorReading,
    SensorType,
    UserEventType,
    UserEventV1,
    UserEventV2,
    utc_now,
)

Clock = Callable[[], datetime]

# type -> (unit, baseline low, baseline high, noise sigma, anomaly size)
SENSOR_PROFILES: dict[SensorType, tuple[str, float, float, float, float]] = {
    "temperature": ("celsius", 18.0, 26.0, 0.3, 15.0),
    "humidity": ("percent", 30.0, 60.0, 1.0, 30.0),
    "pressure": ("hPa", 995.0, 1025.0, 0.5, 40.0),
    "co2": ("ppm", 400.0, 800.0, 15.0, 1500.0),
    "vibration": ("mm/s", 0.5, 3.0, 0.2, 12.0),
}
SITES = ("berlin-plant-1", "berlin-plant-2", "lyon-warehouse", "austin-lab", "osaka-fab")
ZONES = ("hall-a", "hall-b", "cold-room", "roof", "line-3", "office")


def new_id(rng: random.Random) -> uuid.UUID:
    """A UUID4 drawn from ``rng``: deterministic under a seed."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


@dataclass
class Sensor:
    sensor_id: str
    sensor_type: SensorType
    location: str
    unit: str
    level: float  # the current baseline; drifts as a random walk
    noise: float
    anomaly: float


class SensorFleet:
    """Sensors of several types in several sites; readings drift, carry noise and, now and then,
    an anomaly (a spike of several standard deviations)."""

    def __init__(
        self,
        rng: random.Random,
        sensors: int = 200,
        clock: Clock = utc_now,
        anomaly_rate: float = 0.002,
    ) -> None:
        self._rng, self._clock, self._anomaly_rate = rng, clock, anomaly_rate
        types = list(SENSOR_PROFILES)
        self.sensors: list[Sensor] = []
        for i in range(sensors):
            sensor_type = types[i % len(types)]
            unit, low, high, noise, anomaly = SENSOR_PROFILES[sensor_type]
            self.sensors.append(
                Sensor(
                    f"{sensor_type[:4]}-{i:05d}",
                    sensor_type,
                    f"{rng.choice(SITES)}/{rng.choice(ZONES)}",
                    unit,
                    rng.uniform(low, high),
                    noise,
                    anomaly,
                )
            )

    def reading(self) -> SensorReading:
        rng, sensor = self._rng, self._rng.choice(self.sensors)
        sensor.level += rng.gauss(0, sensor.noise * 0.05)  # slow drift
        value = sensor.level + rng.gauss(0, sensor.noise)
        if rng.random() < self._anomaly_rate:
            value += math.copysign(sensor.anomaly, rng.random() - 0.3)
        return SensorReading(
            event_id=new_id(rng),
            event_time=self._clock(),
            sensor_id=sensor.sensor_id,
            sensor_type=sensor.sensor_type,
            location=sensor.location,
            unit=sensor.unit,
            value=round(value, 3),
        )

    def __iter__(self) -> Iterator[SensorReading]:
        while True:
            yield self.reading()


# category -> (nouns, adjectives, uses): the vocabulary makes semantic search meaningful
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "running": (
        ("running shoes", "marathon footwear", "trail runners", "racing flats", "jogging sneakers"),
        ("lightweight", "cushioned", "breathable", "responsive", "grippy"),
        ("long-distance road running", "marathon training", "trail races", "daily jogging"),
    ),
    "outdoor": (
        ("hiking backpack", "camping tent", "sleeping bag", "trekking poles", "rain jacket"),
        ("waterproof", "ultralight", "durable", "packable", "windproof"),
        ("multi-day hikes", "alpine camping", "weekend trekking", "rainy expeditions"),
    ),
    "kitchen": (
        ("chef's knife", "cast iron skillet", "espresso machine", "blender", "dutch oven"),
        ("stainless", "non-stick", "professional", "compact", "heavy-duty"),
        ("home cooking", "searing steaks", "morning coffee", "smoothies and soups"),
    ),
    "electronics": (
        (
            "noise-cancelling headphones",
            "wireless earbuds",
            "mechanical keyboard",
            "4k monitor",
            "portable charger",
        ),
        ("wireless", "high-resolution", "long battery", "ergonomic", "fast-charging"),
        ("focused work", "gaming sessions", "commuting", "video editing"),
    ),
    "fitness": (
        ("yoga mat", "adjustable dumbbells", "resistance bands", "kettlebell", "jump rope"),
        ("non-slip", "adjustable", "compact", "sturdy", "portable"),
        ("home workouts", "strength training", "stretching routines", "cardio circuits"),
    ),
    "books": (
        (
            "science fiction novel",
            "cookbook",
            "travel guide",
            "history of computing",
            "mystery thriller",
        ),
        ("bestselling", "illustrated", "award-winning", "classic", "gripping"),
        ("reading on holiday", "learning new recipes", "planning a trip", "rainy evenings"),
    ),
}
BRANDS = ("Northpeak", "Velo", "Aster", "Kinetic", "Harbor", "Lumen", "Stride", "Oakline")


class Catalog:
    """Products with categories, prices and descriptive text."""

    def __init__(self, rng: random.Random, products: int = 300, clock: Clock = utc_now) -> None:
        self._rng, self._clock = rng, clock
        self.products: list[Product] = [self._make(i) for i in range(products)]

    def _make(self, i: int) -> Product:
        rng = self._rng
        category = list(CATEGORIES)[i % len(CATEGORIES)]
        nouns, adjectives, uses = CATEGORIES[category]
        noun, adjective, use = rng.choice(nouns), rng.choice(adjectives), rng.choice(uses)
        brand = rng.choice(BRANDS)
        return Product(
            event_id=new_id(rng),
            event_time=self._clock(),
            product_id=f"prod-{i:05d}",
            name=f"{brand} {adjective} {noun}",
            description=(
                f"{adjective.capitalize()} {noun} by {brand}, made for {use}. "
                f"A {rng.choice(adjectives)} choice in {category}."
            ),
            category=category,
            price=round(rng.uniform(5, 400), 2),
            tags=(category, adjective, *noun.split()[-1:]),
        )

    def __iter__(self) -> Iterator[Product]:
        while True:  # catalog updates: a product re-published with a new price
            product = self._rng.choice(self.products)
            yield product.model_copy(
                update={
                    "event_id": new_id(self._rng),
                    "event_time": self._clock(),
                    "price": round(product.price * self._rng.uniform(0.9, 1.1), 2),
                }
            )


# Probability of going one funnel step further: view -> click -> add_to_cart -> purchase.
FUNNEL: tuple[tuple[UserEventType, float], ...] = (
    ("view", 1.0),
    ("click", 0.45),
    ("add_to_cart", 0.35),
    ("purchase", 0.5),
)


class UserBehaviour:
    """Users in sessions: campaign interactions, then view -> click -> cart -> purchase funnels
    with falling conversion. A share of the events use schema version 2 (with ``device``)."""

    def __init__(
        self,
        rng: random.Random,
        catalog: Catalog,
        users: int = 1000,
        campaigns: int = 12,
        clock: Clock = utc_now,
        v2_share: float = 0.3,
    ) -> None:
        self._rng, self._catalog, self._clock, self._v2_share = rng, catalog, clock, v2_share
        self.users = [f"user-{i:05d}" for i in range(users)]
        self.campaigns = [f"camp-{i:03d}" for i in range(campaigns)]

    def session(self) -> list[UserEventV1]:
        rng = self._rng
        user, session = rng.choice(self.users), f"sess-{new_id(rng).hex[:12]}"
        device = rng.choice(DEVICES) if rng.random() < self._v2_share else None
        campaign = rng.choice(self.campaigns) if rng.random() < 0.3 else None
        events: list[UserEventV1] = []

        def emit(
            event_type: UserEventType, product: Product | None = None, quantity: int | None = None
        ) -> None:
            common = {
                "event_id": new_id(rng),
                "event_time": self._clock(),
                "user_id": user,
                "session_id": session,
                "event_type": event_type,
                "campaign_id": campaign,
                "product_id": product.product_id if product else None,
                "price": product.price if product and quantity else None,
                "quantity": quantity,
            }
            if device:
                events.append(UserEventV2.model_validate({**common, "device": device}))
            else:
                events.append(UserEventV1.model_validate(common))

        if campaign:
            emit("campaign_view")
            if rng.random() < 0.4:
                emit("campaign_click")
        for product in rng.sample(self._catalog.products, rng.randint(1, 4)):
            for event_type, p in FUNNEL:
                if rng.random() >= p:
                    break
                quantity = rng.randint(1, 3) if event_type == "purchase" else None
                emit(event_type, product, quantity)
        return events

    def __iter__(self) -> Iterator[UserEventV1]:
        while True:
            yield from self.session()


OPENERS = ("Hi!", "Hello,", "Quick question:", "Hey there,", "Good morning,")
ASKS = (
    "is the {name} good for {use}?",
    "I'm looking for {noun} for {use}, what do you recommend?",
    "does the {name} come in other sizes?",
    "how does the {name} compare to other {category} products?",
    "I bought the {name} and I love it, it is really {adjective}.",
    "can I return the {name} if it is not {adjective} enough?",
)


class ChatGenerator:
    """Chat messages that talk about products in natural sentences."""

    def __init__(
        self, rng: random.Random, catalog: Catalog, users: list[str], clock: Clock = utc_now
    ) -> None:
        self._rng, self._catalog, self._users, self._clock = rng, catalog, users, clock

    def message(self) -> ChatMessage:
        rng = self._rng
        product = rng.choice(self._catalog.products)
        nouns, adjectives, uses = CATEGORIES[product.category]
        text = f"{rng.choice(OPENERS)} " + rng.choice(ASKS).format(
            name=product.name,
            use=rng.choice(uses),
            noun=rng.choice(nouns),
            category=product.category,
            adjective=rng.choice(adjectives),
        )
        user = rng.choice(self._users)
        return ChatMessage(
            event_id=new_id(rng),
            event_time=self._clock(),
            user_id=user,
            conversation_id=f"conv-{user}-{rng.randint(0, 3)}",
            text=text,
            product_id=product.product_id,
        )

    def __iter__(self) -> Iterator[ChatMessage]:
        while True:
            yield self.message()


@dataclass
class World:
    """The four generators over one shared catalog and user base."""

    sensors: SensorFleet
    catalog: Catalog
    behaviour: UserBehaviour
    chat: ChatGenerator

    @classmethod
    def build(cls, seed: int, clock: Clock = utc_now) -> World:
        rng = random.Random(seed)
        catalog = Catalog(random.Random(rng.getrandbits(64)), clock=clock)
        behaviour = UserBehaviour(random.Random(rng.getrandbits(64)), catalog, clock=clock)
        return cls(
            sensors=SensorFleet(random.Random(rng.getrandbits(64)), clock=clock),
            catalog=catalog,
            behaviour=behaviour,
            chat=ChatGenerator(random.Random(rng.getrandbits(64)), catalog, behaviour.users, clock),
        )

    def stream(self, kind: str) -> Iterator[Event]:
        return {
            "sensors": iter(self.sensors),
            "products": iter(self.catalog),
            "user-events": iter(self.behaviour),
            "chat": iter(self.chat),
        }[kind]
