"""The VectorStore port: collections of vectors with a small payload, searched by cosine
similarity with payload filters.

An adapter connects in :meth:`VectorStore.setup`, never in ``__init__``, and closes in
:meth:`VectorStore.close`. Every write is idempotent: a point's id derives from the record's id
(:func:`point_id`), so a redelivered record overwrites its point and never duplicates it.

Vectors are compared by cosine similarity; a :class:`Hit`'s ``score`` is that similarity (1.0 for
the same direction), whatever the engine. Payload values are ``str`` (keyword), ``int``,
``float`` or a timezone-aware ``datetime``; each adapter stores them in the engine's own types
and gives them back as they were written.
"""

from __future__ import annotations

import hashlib
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

PayloadValue = str | int | float | datetime
RangeBound = int | float | datetime | None

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_MASK_63 = (1 << 63) - 1


class PayloadType(StrEnum):
    """The type of a payload field, which decides how it is stored, indexed and filtered."""

    KEYWORD = "keyword"
    INT = "int"
    FLOAT = "float"
    DATETIME = "datetime"


def _check_name(kind: str, name: str) -> None:
    # Names reach Milvus filter expressions and Qdrant collection paths unquoted: keep them
    # identifiers so no name can change what an expression means.
    if not _NAME.fullmatch(name):
        raise ValueError(f"{kind} name must be an identifier ([A-Za-z_][A-Za-z0-9_]*): {name!r}")


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """A collection: its name, the vectors' dimension and the payload fields it indexes.

    Every payload field is indexed for filtering; a point's payload may hold only these fields.
    """

    name: str
    dimension: int
    payload_fields: Mapping[str, PayloadType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name("collection", self.name)
        if self.dimension <= 0:
            raise ValueError(f"dimension must be positive, got {self.dimension}")
        for name, kind in self.payload_fields.items():
            _check_name("payload field", name)
            if name in ("id", "vector"):
                raise ValueError(f"payload field name {name!r} is reserved")
            PayloadType(kind)


@dataclass(frozen=True, slots=True)
class Point:
    """One vector to store under ``id`` (see :func:`point_id`) with its payload."""

    id: int
    vector: Sequence[float]
    payload: Mapping[str, PayloadValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.id <= _MASK_63:
            raise ValueError(f"point id must be in 1..2**63-1, got {self.id}")
        if not self.vector:
            raise ValueError("a point needs a non-empty vector")
        for key, value in self.payload.items():
            if isinstance(value, datetime) and value.tzinfo is None:
                raise ValueError(f"payload field {key!r}: datetimes must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the point's id, its cosine similarity to the query and its payload."""

    id: int
    score: float
    payload: Mapping[str, PayloadValue]


@dataclass(frozen=True, slots=True)
class Filter:
    """Payload conditions, all of which a hit must meet.

    ``equals`` matches a keyword or int field exactly; ``ranges`` bounds a number or datetime
    field, both ends inclusive, ``None`` for an open end:
    ``Filter(equals={"category": "shoes"}, ranges={"price": (10.0, 50.0)})``.
    """

    equals: Mapping[str, str | int] = field(default_factory=dict)
    ranges: Mapping[str, tuple[RangeBound, RangeBound]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (*self.equals, *self.ranges):
            _check_name("filter field", name)
        for name, value in self.equals.items():
            # bool is an int to Python but not to the engines.
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise ValueError(f"equals[{name!r}] must be a str or an int, got {value!r}")
        for name, (lo, hi) in self.ranges.items():
            if lo is None and hi is None:
                raise ValueError(f"ranges[{name!r}] needs at least one bound")
            for bound in (lo, hi):
                if isinstance(bound, datetime) and bound.tzinfo is None:
                    raise ValueError(f"ranges[{name!r}]: datetimes must be timezone-aware")
                if isinstance(bound, float) and not math.isfinite(bound):
                    raise ValueError(f"ranges[{name!r}]: bounds must be finite")

    def __bool__(self) -> bool:
        return bool(self.equals or self.ranges)


def point_id(record_id: str) -> int:
    """The point id of the record whose id is ``record_id``: the same text always gives the same
    id, so a redelivered record overwrites its point.

    The first 8 bytes of BLAKE2b, masked to 63 bits so that it fits a signed int64 (Milvus's
    primary key) and an unsigned one (Qdrant's); never 0. Two different records collide with
    probability about n**2 / 2**64: 1e-8 for 500 million records.
    """
    digest = hashlib.blake2b(record_id.encode("utf-8"), digest_size=8).digest()
    return (int.from_bytes(digest, "big") & _MASK_63) or 1


class VectorStore(ABC):
    """Where vectors are stored and searched. Connect in :meth:`setup`, release in :meth:`close`."""

    async def setup(self) -> None:  # noqa: B027 - optional hook, as Sink.setup
        """Connect to the engine. Called once before any other method."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection."""

    async def __aenter__(self) -> Self:
        await self.setup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def ensure_collection(self, spec: CollectionSpec) -> None:
        """Create the collection and its payload indexes if missing; leave an existing one as it
        is. Must be called (on this instance) before writing to or searching the collection."""

    @abstractmethod
    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        """Insert the points, or replace those whose id is already stored."""

    @abstractmethod
    async def delete(self, collection: str, ids: Sequence[int]) -> None:
        """Delete the points with these ids; ids not stored are ignored."""

    @abstractmethod
    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int = 10,
        filters: Filter | None = None,
    ) -> list[Hit]:
        """The ``limit`` points most similar to ``vector`` that meet ``filters``, best first."""

    @abstractmethod
    async def retrieve(self, collection: str, ids: Sequence[int]) -> dict[int, Point]:
        """The stored points (vector and payload) with these ids, by id; ids not stored are
        absent from the result.

        The vector comes back as float32 values. Engines that compare by cosine may store the
        vector normalised (Qdrant does): write unit vectors, or keep the norm in the payload, to
        read back exactly what was written.
        """


class _AsyncClosable(Protocol):
    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_AsyncClosable)


class ClientVectorStore(VectorStore, Generic[ClientT]):
    """What the adapters over an engine's async client share: the client opened in
    :meth:`connect` (called by :meth:`setup`), closed by :meth:`close`, and the collection specs
    that :meth:`ensure_collection` registered."""

    def __init__(self) -> None:
        self._client: ClientT | None = None
        self._specs: dict[str, CollectionSpec] = {}

    @abstractmethod
    async def connect(self) -> ClientT:
        """Open the engine's client."""

    async def setup(self) -> None:
        self._client = await self.connect()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    @property
    def client(self) -> ClientT:
        """The engine's client, for what the port does not cover (tests drop collections)."""
        if self._client is None:
            raise RuntimeError(f"{type(self).__name__} used before setup()")
        return self._client

    def _spec(self, collection: str) -> CollectionSpec:
        try:
            return self._specs[collection]
        except KeyError:
            raise KeyError(f"call ensure_collection() for {collection!r} first") from None
