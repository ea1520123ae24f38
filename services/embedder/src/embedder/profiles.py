"""User profile vectors: what a user wrote and which products they touched, as one vector.

A profile is the normalised, exponentially decayed, weighted sum of the vectors of the user's
chat messages and of the products of their events::

    profile = normalise( sum_i  w_i * 2 ** (-(t_ref - t_i) / half_life) * v_i )

with ``w_i`` the interaction's weight (a purchase counts more than a view; see
``ProfileSettings``), ``t_i`` its event time and ``t_ref`` the latest event time seen. Decay runs on
event time, not on the clock: the profile is the same whenever, and in whatever order, the
interactions are applied, because scaling a sum by ``2 ** (-dt / half_life)`` commutes with adding
to it. (Cosine similarity ignores the length of a vector, so decaying everything towards "now" as
time passes would not change the direction the profile points in; no timer is needed.)

Exactly once under at-least-once delivery: the stored profile point carries, with the vector, the
state to continue it (the unnormalised sum's length ``norm``, the decayed ``weight``, ``t_ref``) and
a watermark per input topic: the offset of the last message of the user that it includes
(``events_offset`` on ``user.events``, ``chat_offset`` on ``chat.messages``). One point is written
whole, so the effect and its watermark land together; a redelivered message at or below the
watermark is skipped. This relies on co-partitioning (``polystream_common.topics``): all of a
user's messages of a topic are in one partition, in order, so one offset orders them. (Adding
partitions to a running topic re-keys users, which ``ensure_topics`` logs loudly; the watermark is
then from another partition and must be reset with the profiles.)

Memory is only a cache of what is stored (``sink.py``'s rule): a profile enters the cache after its
point is written, a partition's profiles leave it when the partition is revoked, and the cache is
bounded (least recently used out). After a crash the cache is empty and profiles are read back.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from embedder.stores import VectorStores
from polystream_vectors.store import Point, point_id

log = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]
EVENTS = "events"
CHAT = "chat"
Source = str  # EVENTS or CHAT: which watermark an interaction advances


@dataclass(frozen=True, slots=True)
class Interaction:
    """One thing a user did that moves their profile: a vector, its weight and when, and the
    Kafka position of the message it came from."""

    user_id: str
    vector: Vector
    weight: float
    at: datetime
    source: Source
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Profile:
    """A user's profile state: ``total`` is the decayed weighted sum at time ``as_of``."""

    user_id: str
    total: Vector
    weight: float
    as_of: datetime
    events_offset: int = -1
    chat_offset: int = -1

    def includes(self, interaction: Interaction) -> bool:
        """True if the interaction's message was applied already (a redelivery)."""
        mark = self.events_offset if interaction.source == EVENTS else self.chat_offset
        return interaction.offset <= mark

    def vector(self) -> Vector:
        """The profile vector: the decayed sum, normalised (zero for an empty profile)."""
        norm = float(np.linalg.norm(self.total))
        return self.total / norm if norm > 0 else self.total


def empty_profile(user_id: str, dimension: int) -> Profile:
    return Profile(user_id, np.zeros(dimension, np.float32), 0.0, datetime(1970, 1, 1, tzinfo=UTC))


def apply(profile: Profile, interaction: Interaction, half_life_s: float) -> Profile:
    """The profile with ``interaction`` added (see the module docstring for the decay)."""
    weight, total, as_of = interaction.weight, profile.total, profile.as_of
    dt = (interaction.at - as_of).total_seconds()
    if dt > 0:  # a newer interaction: age what is there, move the reference time forward
        factor = math.pow(2.0, -dt / half_life_s)
        total, profile_weight, as_of = total * factor, profile.weight * factor, interaction.at
    else:  # an older one: age the newcomer instead
        weight *= math.pow(2.0, dt / half_life_s)
        profile_weight = profile.weight
    events_offset, chat_offset = profile.events_offset, profile.chat_offset
    if interaction.source == EVENTS:
        events_offset = max(events_offset, interaction.offset)
    else:
        chat_offset = max(chat_offset, interaction.offset)
    return replace(
        profile,
        total=(total + np.float32(weight) * interaction.vector).astype(np.float32),
        weight=profile_weight + weight,
        as_of=as_of,
        events_offset=events_offset,
        chat_offset=chat_offset,
    )


def to_point(profile: Profile) -> Point:
    """The stored point: the normalised vector, and what continuing the profile needs."""
    norm = float(np.linalg.norm(profile.total))
    return Point(
        id=point_id(profile.user_id),
        vector=profile.vector().tolist(),
        payload={
            "user_id": profile.user_id,
            "updated_at": profile.as_of,
            "norm": norm,
            "weight": profile.weight,
            "events_offset": profile.events_offset,
            "chat_offset": profile.chat_offset,
        },
    )


def from_point(point: Point) -> Profile:
    """The profile a stored point continues (the inverse of :func:`to_point`)."""
    payload = point.payload
    as_of, norm, weight = payload["updated_at"], payload["norm"], payload["weight"]
    events_offset, chat_offset = payload["events_offset"], payload["chat_offset"]
    assert isinstance(as_of, datetime)
    assert isinstance(norm, float | int) and isinstance(weight, float | int)
    assert isinstance(events_offset, int) and isinstance(chat_offset, int)
    vector = np.asarray(point.vector, np.float32)
    return Profile(
        user_id=str(payload["user_id"]),
        total=(vector * np.float32(norm)).astype(np.float32),
        weight=float(weight),
        as_of=as_of,
        events_offset=events_offset,
        chat_offset=chat_offset,
    )


class ProfileBook:
    """Applies interactions to stored profiles, exactly once each; shared by the sinks of the
    streams that move profiles (``chat.messages`` and ``user.events``, co-partitioned)."""

    def __init__(
        self,
        stores: VectorStores,
        dimension: int,
        half_life_s: float,
        cache_size: int,
        collection: str,
    ) -> None:
        self._stores = stores
        self._dimension = dimension
        self._half_life_s = half_life_s
        self._cache_size = cache_size
        self._collection = collection
        self._cache: OrderedDict[str, tuple[int, Profile]] = OrderedDict()  # user -> (partition, p)
        # The loop writes one sink at a time, but a profile is read, changed and written back:
        # the lock keeps that safe for any caller.
        self._lock = asyncio.Lock()

    async def apply(self, interactions: Sequence[Interaction]) -> int:
        """Apply the interactions not applied before; returns how many were new."""
        if not interactions:
            return 0
        async with self._lock:
            by_user: dict[str, list[Interaction]] = {}
            for interaction in interactions:
                by_user.setdefault(interaction.user_id, []).append(interaction)
            profiles = await self._load(by_user)
            changed: dict[str, tuple[int, Profile]] = {}
            applied = 0
            for user, items in by_user.items():
                profile = profiles[user]
                for interaction in items:
                    if profile.includes(interaction):
                        continue
                    profile = apply(profile, interaction, self._half_life_s)
                    applied += 1
                if profile is not profiles[user]:
                    changed[user] = (items[-1].partition, profile)
            await self._stores.upsert(self._collection, [to_point(p) for _, p in changed.values()])
            # Only now, with the points written, may memory say so.
            for user, entry in changed.items():
                self._remember(user, entry)
            return applied

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        """Drop the cached profiles of users in ``partitions`` (they are another's now)."""
        gone = set(partitions)
        for user in [u for u, (p, _) in self._cache.items() if p in gone]:
            del self._cache[user]

    @property
    def cached(self) -> int:
        return len(self._cache)

    async def _load(self, by_user: dict[str, list[Interaction]]) -> dict[str, Profile]:
        profiles: dict[str, Profile] = {}
        missing: list[str] = []
        for user in by_user:
            entry = self._cache.get(user)
            if entry is None:
                missing.append(user)
            else:
                self._cache.move_to_end(user)
                profiles[user] = entry[1]
        if missing:
            stored = await self._stores.retrieve(self._collection, [point_id(u) for u in missing])
            for user in missing:
                point = stored.get(point_id(user))
                profiles[user] = (
                    from_point(point) if point else empty_profile(user, self._dimension)
                )
        return profiles

    def _remember(self, user: str, entry: tuple[int, Profile]) -> None:
        if self._cache_size == 0:
            return
        self._cache[user] = entry
        self._cache.move_to_end(user)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
