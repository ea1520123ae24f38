"""Synthetic, realistic and deterministic (under a seed) generators for the four streams.

Every generator draws from its own ``random.Random`` and takes a ``clock``, so a seed and a fixed
clock give the same records every time, event ids included. Generators yield the schema objects
of ``polystream_common.schemas``; :meth:`SensorFleet.encoded` is the load test's fast path, the
same records as JSON bytes without building a pydantic model per reading.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from polystream_common.schemas import (
    DEVICES,
    ChatMessage,
    Device,
    Event,
    Product,
    SensorReading,
    SensorType,
    UserEventType,
    UserEventV1,
    UserEventV2,
    utc_now,
)
from producer.vocabulary import (
    BRANDS,
    CATEGORIES,
    CHAT_FOLLOW_UPS,
    CHAT_OPENERS,
    CHAT_QUESTIONS,
    DESCRIPTIONS,
    EDITIONS,
    MODELS,
    Category,
    ProductKind,
    with_article,
)

Clock = Callable[[], datetime]

_VERSION_MASK = ~(0xF000 << 64) & ~(0xC000 << 48)
_VERSION_BITS = (0x4000 << 64) | (0x8000 << 48)


def new_id(rng: random.Random) -> uuid.UUID:
    """A UUID4 drawn from ``rng``: deterministic under a seed."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def uuid4_text(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))``, at a third of the cost."""
    h = f"{bits & _VERSION_MASK | _VERSION_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso_time(moment: datetime) -> str:
    """``moment`` as pydantic writes it in JSON (UTC as ``Z``)."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True, slots=True)
class SensorProfile:
    """How one sensor type behaves: unit, usual range, noise, anomaly size, physical bounds."""

    unit: str
    low: float
    high: float
    noise: float
    anomaly: float
    floor: float = -math.inf
    ceiling: float = math.inf


SENSOR_PROFILES: dict[SensorType, SensorProfile] = {
    "temperature": SensorProfile("°C", 18.0, 26.0, 0.3, 15.0, floor=-40.0, ceiling=125.0),
    "humidity": SensorProfile("%", 30.0, 60.0, 1.0, 30.0, floor=0.0, ceiling=100.0),
    "pressure": SensorProfile("hPa", 995.0, 1025.0, 0.5, 40.0, floor=800.0, ceiling=1100.0),
    "co2": SensorProfile("ppm", 400.0, 800.0, 15.0, 1500.0, floor=0.0),
    "vibration": SensorProfile("mm/s", 0.5, 3.0, 0.2, 12.0, floor=0.0),
}
# A cold room is cold: its temperature sensors sit in another range.
COLD_ROOM = SensorProfile("°C", 1.0, 5.0, 0.2, 10.0, floor=-40.0, ceiling=125.0)
SITES = ("berlin-plant-1", "berlin-plant-2", "lyon-warehouse", "austin-lab", "osaka-fab")
ZONES = ("hall-a", "hall-b", "cold-room", "roof", "line-3", "office")


@dataclass(slots=True)
class Sensor:
    sensor_id: str
    sensor_type: SensorType
    location: str
    profile: SensorProfile
    baseline: float
    level: float  # the current level: a mean-reverting random walk around the baseline
    json_tail: str = ""  # the reading's constant JSON fields, for the fast path

    def __post_init__(self) -> None:
        fields = {
            "schema_version": 1,
            "sensor_id": self.sensor_id,
            "sensor_type": self.sensor_type,
            "location": self.location,
            "unit": self.profile.unit,
        }
        self.json_tail = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))[1:-1]


class SensorFleet:
    """Sensors of five types in several sites. Readings drift, carry noise and, now and then, an
    anomaly: a spike of many standard deviations, mostly upwards."""

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
            site, zone = rng.choice(SITES), rng.choice(ZONES)
            profile = SENSOR_PROFILES[sensor_type]
            if sensor_type == "temperature" and zone == "cold-room":
                profile = COLD_ROOM
            baseline = rng.uniform(profile.low, profile.high)
            self.sensors.append(
                Sensor(
                    f"{sensor_type[:4]}-{i:05d}",
                    sensor_type,
                    f"{site}/{zone}",
                    profile,
                    baseline,
                    baseline,
                )
            )

    def _draw(self) -> tuple[Sensor, float, int]:
        """The next reading's sensor, value and id bits: the one place that spends the rng."""
        rng = self._rng
        sensor = self.sensors[int(rng.random() * len(self.sensors))]
        profile = sensor.profile
        sensor.level += rng.gauss(0.0, profile.noise * 0.05) + 0.01 * (
            sensor.baseline - sensor.level
        )
        value = sensor.level + rng.gauss(0.0, profile.noise)
        if rng.random() < self._anomaly_rate:
            value += profile.anomaly if rng.random() < 0.7 else -profile.anomaly
        value = round(min(max(value, profile.floor), profile.ceiling), 3)
        return sensor, value, rng.getrandbits(128)

    def reading(self) -> SensorReading:
        sensor, value, bits = self._draw()
        return SensorReading(
            event_id=uuid.UUID(int=bits, version=4),
            event_time=self._clock(),
            sensor_id=sensor.sensor_id,
            sensor_type=sensor.sensor_type,
            location=sensor.location,
            unit=sensor.profile.unit,
            value=value,
        )

    def encoded(self) -> tuple[bytes, bytes]:
        """The next reading as (Kafka key, JSON value): the bytes ``SENSOR_READINGS.encode`` gives
        for :meth:`reading`, without a model (the load test's hot path)."""
        sensor, value, bits = self._draw()
        value_json = (
            f'{{"event_id":"{uuid4_text(bits)}","event_time":"{iso_time(self._clock())}",'
            f'{sensor.json_tail},"value":{value!r}}}'
        )
        return sensor.sensor_id.encode(), value_json.encode()

    def __iter__(self) -> Iterator[SensorReading]:
        while True:
            yield self.reading()


class Catalog:
    """Products of six categories, with names and descriptions from each category's vocabulary.

    Iterating publishes the whole catalog once, then price updates of random products.
    """

    def __init__(self, rng: random.Random, products: int = 300, clock: Clock = utc_now) -> None:
        self._rng, self._clock = rng, clock
        self._kinds: dict[str, tuple[Category, ProductKind]] = {}
        self.products: list[Product] = [self._make(i) for i in range(products)]
        self.by_category: dict[str, list[Product]] = {}
        for product in self.products:
            self.by_category.setdefault(product.category, []).append(product)

    def _make(self, i: int) -> Product:
        rng = self._rng
        category = CATEGORIES[i % len(CATEGORIES)]
        kind = rng.choice(category.kinds)
        adjective, brand = rng.choice(category.adjectives), rng.choice(BRANDS)
        name = f"{brand} {rng.choice(MODELS)}{rng.choice(EDITIONS)} {kind.noun}"
        feature, feature2 = rng.sample(kind.features, 2)
        synonym = rng.choice(kind.synonyms)
        product_id = f"prod-{i:05d}"
        self._kinds[product_id] = (category, kind)
        description = rng.choice(DESCRIPTIONS).format(
            Adjective=adjective.capitalize(),
            adjective=adjective,
            a_synonym=with_article(synonym),
            an_adjective=with_article(adjective),
            noun=kind.noun,
            name=name,
            brand=brand,
            use=rng.choice(category.uses),
            synonym=synonym,
            feature=feature,
            feature2=feature2,
        )
        return Product(
            event_id=new_id(rng),
            event_time=self._clock(),
            product_id=product_id,
            name=name,
            description=description,
            category=category.name,
            price=round(rng.uniform(5, 400), 2),
            tags=(category.name, adjective, kind.noun, *kind.synonyms[:1]),
        )

    def kind_of(self, product: Product) -> tuple[Category, ProductKind]:
        """The category and product kind a product of this catalog was made from."""
        return self._kinds[product.product_id]

    def __iter__(self) -> Iterator[Product]:
        yield from self.products
        while True:  # catalog updates: a product re-published with a new price
            product = self._rng.choice(self.products)
            yield product.model_copy(
                update={
                    "event_id": new_id(self._rng),
                    "event_time": self._clock(),
                    "price": round(product.price * self._rng.uniform(0.9, 1.1), 2),
                }
            )


@dataclass(frozen=True, slots=True)
class User:
    """A shopper: the device they use, whether their app sends schema v2, what they like."""

    user_id: str
    device: Device
    sends_v2: bool
    interests: tuple[str, ...]
    propensity: float  # scales funnel conversion: some users buy more readily


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    category: str


# Probability of going one funnel step further: view -> click -> add_to_cart -> purchase.
FUNNEL: tuple[tuple[UserEventType, float], ...] = (
    ("view", 1.0),
    ("click", 0.45),
    ("add_to_cart", 0.35),
    ("purchase", 0.5),
)


@dataclass
class UserBehaviour:
    """Users in sessions: campaign interactions, then view -> click -> cart -> purchase funnels
    with falling conversion. Users whose app is upgraded send schema version 2 (with
    ``device``)."""

    rng: random.Random
    catalog: Catalog
    users_count: int = 1000
    campaigns_count: int = 12
    clock: Clock = utc_now
    v2_share: float = 0.3
    users: list[User] = field(init=False)
    campaigns: list[Campaign] = field(init=False)

    def __post_init__(self) -> None:
        rng, names = self.rng, [c.name for c in CATEGORIES]
        self.users = [
            User(
                f"user-{i:05d}",
                rng.choice(DEVICES),
                rng.random() < self.v2_share,
                tuple(rng.sample(names, 2)),
                rng.uniform(0.5, 1.5),
            )
            for i in range(self.users_count)
        ]
        self.campaigns = [
            Campaign(f"camp-{i:03d}", names[i % len(names)]) for i in range(self.campaigns_count)
        ]

    @property
    def user_ids(self) -> list[str]:
        return [u.user_id for u in self.users]

    def session(self) -> list[UserEventV1]:
        """One user session, in order: maybe a campaign view and click, then 1-4 product funnels."""
        rng = self.rng
        user = rng.choice(self.users)
        session = f"sess-{new_id(rng).hex[:12]}"
        campaign = rng.choice(self.campaigns) if rng.random() < 0.3 else None
        events: list[UserEventV1] = []

        def emit(event_type: UserEventType, product: Product | None = None) -> None:
            quantity = rng.randint(1, 3) if event_type == "purchase" else None
            fields = {
                "event_id": new_id(rng),
                "event_time": self.clock(),
                "user_id": user.user_id,
                "session_id": session,
                "event_type": event_type,
                "campaign_id": campaign.campaign_id if campaign else None,
                "product_id": product.product_id if product else None,
                "price": product.price if product and quantity else None,
                "quantity": quantity,
            }
            if user.sends_v2:
                events.append(UserEventV2.model_validate({**fields, "device": user.device}))
            else:
                events.append(UserEventV1.model_validate(fields))

        categories = list(user.interests)
        if campaign:
            emit("campaign_view")
            if rng.random() < 0.4:
                emit("campaign_click")
                categories = [campaign.category]
        for _ in range(rng.randint(1, 4)):
            # mostly what the user (or the campaign) is into, sometimes anything
            if rng.random() < 0.8:
                product = rng.choice(self.catalog.by_category[rng.choice(categories)])
            else:
                product = rng.choice(self.catalog.products)
            for event_type, p in FUNNEL:
                if rng.random() >= min(0.95, p * user.propensity) and event_type != "view":
                    break
                emit(event_type, product)
        return events

    def __iter__(self) -> Iterator[UserEventV1]:
        while True:
            yield from self.session()


class ChatGenerator:
    """Chat messages about products in natural sentences. A conversation opens with a question
    about a product and may go on with follow-ups about the same product."""

    def __init__(
        self,
        rng: random.Random,
        catalog: Catalog,
        users: list[str],
        clock: Clock = utc_now,
        open_conversations: int = 50,
    ) -> None:
        self._rng, self._catalog, self._users, self._clock = rng, catalog, users, clock
        self._max_open = open_conversations
        self._open: list[tuple[str, str, Product]] = []  # (conversation, user, product)

    def _text(self, templates: tuple[str, ...], product: Product) -> str:
        rng = self._rng
        category, kind = self._catalog.kind_of(product)
        synonym, adjective = rng.choice(kind.synonyms), rng.choice(category.adjectives)
        feature, feature2 = rng.sample(kind.features, 2)
        return rng.choice(templates).format(
            name=product.name,
            noun=kind.noun,
            synonym=synonym,
            a_synonym=with_article(synonym),
            an_adjective=with_article(adjective),
            adjective=adjective,
            use=rng.choice(category.uses),
            category=category.name,
            feature=feature,
            feature2=feature2,
        )

    def message(self) -> ChatMessage:
        rng = self._rng
        if self._open and rng.random() < 0.5:
            index = int(rng.random() * len(self._open))
            conversation, user, product = self._open[index]
            text = self._text(CHAT_FOLLOW_UPS, product)
            if rng.random() < 0.4:  # the conversation ends here
                self._open[index] = self._open[-1]
                self._open.pop()
        else:
            product, user = rng.choice(self._catalog.products), rng.choice(self._users)
            conversation = f"conv-{new_id(rng).hex[:12]}"
            opener = rng.choice(CHAT_OPENERS)
            question = self._text(CHAT_QUESTIONS, product)
            if not opener or opener.endswith(("!", ":")):
                question = question[0].upper() + question[1:]
            text = f"{opener} {question}".strip()
            if len(self._open) < self._max_open:
                self._open.append((conversation, user, product))
        return ChatMessage(
            event_id=new_id(rng),
            event_time=self._clock(),
            user_id=user,
            conversation_id=conversation,
            text=text,
            product_id=product.product_id,
        )

    def __iter__(self) -> Iterator[ChatMessage]:
        while True:
            yield self.message()


STREAM_KINDS = ("sensors", "user-events", "chat", "products")


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
            chat=ChatGenerator(
                random.Random(rng.getrandbits(64)), catalog, behaviour.user_ids, clock
            ),
        )

    def stream(self, kind: str) -> Iterator[Event]:
        """The endless events of one stream kind (one of :data:`STREAM_KINDS`)."""
        generators: dict[str, Callable[[], Iterator[Event]]] = {
            "sensors": lambda: iter(self.sensors),
            "products": lambda: iter(self.catalog),
            "user-events": lambda: iter(self.behaviour),
            "chat": lambda: iter(self.chat),
        }
        return generators[kind]()
