"""The Qdrant adapter of :class:`~polystream_vectors.store.VectorStore`, on qdrant-client's
``AsyncQdrantClient``: a server (``url``) or the in-process local mode (``path``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm

from polystream_vectors.settings import QdrantSettings
from polystream_vectors.store import (
    ClientVectorStore,
    CollectionSpec,
    Filter,
    Hit,
    PayloadType,
    PayloadValue,
    Point,
)

_INDEX_TYPES = {
    PayloadType.KEYWORD: qm.PayloadSchemaType.KEYWORD,
    PayloadType.INT: qm.PayloadSchemaType.INTEGER,
    PayloadType.FLOAT: qm.PayloadSchemaType.FLOAT,
    PayloadType.DATETIME: qm.PayloadSchemaType.DATETIME,
}


class QdrantVectorStore(ClientVectorStore[AsyncQdrantClient]):
    """Vectors in Qdrant: cosine distance, one payload index per payload field, the
    :func:`~polystream_vectors.store.point_id` as the point id. Datetimes are stored as RFC 3339
    text (what Qdrant's datetime index reads) and come back as ``datetime``."""

    def __init__(self, settings: QdrantSettings) -> None:
        super().__init__()
        self._settings = settings

    async def connect(self) -> AsyncQdrantClient:
        s = self._settings
        if s.path is not None:
            return AsyncQdrantClient(path=str(s.path))
        api_key = s.api_key.get_secret_value() if s.api_key is not None else None
        return AsyncQdrantClient(url=s.url, api_key=api_key, timeout=max(1, round(s.timeout_s)))

    async def ensure_collection(self, spec: CollectionSpec) -> None:
        client = self.client
        if not await client.collection_exists(spec.name):
            await client.create_collection(
                spec.name,
                vectors_config=qm.VectorParams(size=spec.dimension, distance=qm.Distance.COSINE),
            )
        # Creating an index that exists is a no-op, so this also completes a collection whose
        # creation was interrupted between the collection and its indexes. Local mode filters
        # by scanning and only warns that indexes have no effect there.
        for name, kind in spec.payload_fields.items() if self._settings.path is None else ():
            await client.create_payload_index(
                spec.name, field_name=name, field_schema=_INDEX_TYPES[kind]
            )
        self._specs[spec.name] = spec

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        if not points:
            return
        spec = self._spec(collection)
        await self.client.upsert(
            collection,
            points=[
                qm.PointStruct(id=p.id, vector=list(p.vector), payload=_to_qdrant(spec, p.payload))
                for p in points
            ],
            wait=True,
        )

    async def delete(self, collection: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        await self.client.delete(
            collection, points_selector=qm.PointIdsList(points=list(ids)), wait=True
        )

    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int = 10,
        filters: Filter | None = None,
    ) -> list[Hit]:
        spec = self._spec(collection)
        response = await self.client.query_points(
            collection,
            query=list(vector),
            limit=limit,
            query_filter=qdrant_filter(filters) if filters else None,
            with_payload=True,
        )
        return [
            Hit(id=int(p.id), score=p.score, payload=_from_qdrant(spec, p.payload or {}))
            for p in response.points
        ]

    async def retrieve(self, collection: str, ids: Sequence[int]) -> dict[int, Point]:
        spec = self._spec(collection)
        if not ids:
            return {}
        records = await self.client.retrieve(
            collection, ids=list(dict.fromkeys(ids)), with_payload=True, with_vectors=True
        )
        points: dict[int, Point] = {}
        for record in records:
            vector = record.vector
            if not isinstance(vector, list):  # a named or sparse vector: never written by us
                raise TypeError(f"{collection}: point {record.id} has no plain vector")
            points[int(record.id)] = Point(
                id=int(record.id),
                vector=[float(x) for x in vector],  # type: ignore[arg-type]
                payload=_from_qdrant(spec, record.payload or {}),
            )
        return points

    async def count(self, collection: str) -> int:
        """The exact number of points stored (not part of the port: for tests and checks)."""
        return (await self.client.count(collection, exact=True)).count


def qdrant_filter(filters: Filter) -> qm.Filter:
    """The Qdrant filter that keeps the points meeting every condition of ``filters``."""
    must: list[qm.Condition] = [
        qm.FieldCondition(key=name, match=qm.MatchValue(value=value))
        for name, value in filters.equals.items()
    ]
    for name, (lo, hi) in filters.ranges.items():
        if isinstance(lo, datetime) or isinstance(hi, datetime):
            must.append(qm.FieldCondition(key=name, range=qm.DatetimeRange(gte=lo, lte=hi)))
        else:
            must.append(qm.FieldCondition(key=name, range=qm.Range(gte=lo, lte=hi)))
    return qm.Filter(must=must)


def _to_qdrant(spec: CollectionSpec, payload: Mapping[str, PayloadValue]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in payload.items():
        if name not in spec.payload_fields:
            raise ValueError(f"{spec.name}: payload field {name!r} is not in the collection spec")
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _from_qdrant(spec: CollectionSpec, payload: Mapping[str, Any]) -> dict[str, PayloadValue]:
    out: dict[str, PayloadValue] = {}
    for name, value in payload.items():
        kind = spec.payload_fields.get(name)
        out[name] = datetime.fromisoformat(value) if kind == PayloadType.DATETIME else value
    return out
