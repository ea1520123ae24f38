"""The Milvus adapter of :class:`~polystream_vectors.store.VectorStore`, on pymilvus's
``AsyncMilvusClient`` (written for, and tested against, a Milvus 2.3 server)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymilvus import AsyncMilvusClient, DataType, MilvusException

from polystream_vectors.settings import MilvusSettings
from polystream_vectors.store import (
    ClientVectorStore,
    CollectionSpec,
    Filter,
    Hit,
    PayloadType,
    PayloadValue,
    Point,
    RangeBound,
)

PRIMARY_KEY = "id"
VECTOR_FIELD = "vector"
KEYWORD_MAX_LENGTH = 1024
RETRIEVE_CHUNK = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Datetimes are stored as INT64 microseconds since the epoch: Milvus 2.3 has no time type, and
# an integer keeps range filters exact.
_FIELD_TYPES = {
    PayloadType.KEYWORD: DataType.VARCHAR,
    PayloadType.INT: DataType.INT64,
    PayloadType.FLOAT: DataType.DOUBLE,
    PayloadType.DATETIME: DataType.INT64,
}


class MilvusVectorStore(ClientVectorStore[AsyncMilvusClient]):
    """Vectors in Milvus: an INT64 primary key (the
    :func:`~polystream_vectors.store.point_id`), one scalar field per payload field, an HNSW index
    with the COSINE metric.

    Milvus 2.3 has no nullable fields: every point must carry every payload field of its
    collection. Collections are created with ``consistency_level`` (``Strong`` by default), so a
    search sees every write acknowledged before it; ``Bounded`` trades that for latency.
    """

    def __init__(
        self,
        settings: MilvusSettings,
        *,
        consistency_level: str = "Strong",
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 200,
        search_ef: int = 64,
    ) -> None:
        super().__init__()
        self._settings = settings
        self._consistency_level = consistency_level
        level = settings.read_consistency_level
        self._read_consistency = {"consistency_level": level} if level else {}
        self._hnsw = {"M": hnsw_m, "efConstruction": hnsw_ef_construction}
        self._search_ef = search_ef

    async def connect(self) -> AsyncMilvusClient:
        s = self._settings
        return AsyncMilvusClient(
            uri=s.uri,
            token=s.token.get_secret_value() if s.token is not None else "",
            db_name=s.db_name,
            timeout=s.timeout_s,
        )

    async def ensure_collection(self, spec: CollectionSpec) -> None:
        client = self.client
        if not await client.has_collection(spec.name):
            try:
                await client.create_collection(
                    spec.name,
                    schema=_schema(spec),
                    index_params=self._index_params(),
                    consistency_level=self._consistency_level,
                )
            except MilvusException:
                # Another instance may have created it between the check and the create.
                if not await client.has_collection(spec.name):
                    raise
        # Search needs the collection loaded; loading a loaded one is a no-op, and this loads it
        # again after a server restart.
        await client.load_collection(spec.name)
        self._specs[spec.name] = spec

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        if not points:
            return
        spec = self._spec(collection)
        await self.client.upsert(collection, [_row(spec, p) for p in points])

    async def delete(self, collection: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        await self.client.delete(collection, ids=list(ids))

    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int = 10,
        filters: Filter | None = None,
    ) -> list[Hit]:
        spec = self._spec(collection)
        results = await self.client.search(
            collection,
            data=[list(vector)],
            filter=milvus_expression(filters) if filters else "",
            limit=limit,
            output_fields=list(spec.payload_fields),
            anns_field=VECTOR_FIELD,
            # HNSW returns at most ef results: ef below the limit would cut the answer short.
            search_params={"metric_type": "COSINE", "params": {"ef": max(self._search_ef, limit)}},
            **self._read_consistency,
        )
        return [
            Hit(
                id=int(hit["id"]),
                score=float(hit["distance"]),
                payload=_payload(spec, hit["entity"]),
            )
            for hit in results[0]
        ]

    async def retrieve(self, collection: str, ids: Sequence[int]) -> dict[int, Point]:
        spec = self._spec(collection)
        wanted = list(dict.fromkeys(ids))
        points: dict[int, Point] = {}
        output_fields = [VECTOR_FIELD, *spec.payload_fields]
        # In bounded requests: the `id in [...]` expression and the response (vectors included:
        # ~1.5 MB for 1000 rows of 384 floats) grow with the ids, and gRPC caps a message.
        for start in range(0, len(wanted), RETRIEVE_CHUNK):
            rows = await self.client.get(
                collection,
                ids=wanted[start : start + RETRIEVE_CHUNK],
                output_fields=output_fields,
                **self._read_consistency,
            )
            for row in rows:
                id_ = int(row[PRIMARY_KEY])
                points[id_] = Point(
                    id=id_,
                    vector=[float(x) for x in row[VECTOR_FIELD]],
                    payload=_payload(spec, row),
                )
        return points

    async def count(self, collection: str) -> int:
        """The number of points stored (not part of the port: for tests and checks)."""
        rows = await self.client.query(collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def _index_params(self) -> Any:
        params = AsyncMilvusClient.prepare_index_params()
        params.add_index(
            field_name=VECTOR_FIELD, index_type="HNSW", metric_type="COSINE", params=self._hnsw
        )
        return params


def milvus_expression(filters: Filter) -> str:
    """The Milvus boolean expression that keeps the points meeting every condition of
    ``filters``. Field names are identifiers (checked by :class:`Filter`); strings are quoted
    with every quote, backslash and control character escaped, so no value can change what the
    expression means."""
    terms = [f"{name} == {_literal(value)}" for name, value in filters.equals.items()]
    for name, (lo, hi) in filters.ranges.items():
        if lo is not None:
            terms.append(f"{name} >= {_literal(lo)}")
        if hi is not None:
            terms.append(f"{name} <= {_literal(hi)}")
    return " && ".join(f"({term})" for term in terms)


def _literal(value: str | RangeBound) -> str:
    if isinstance(value, str):
        # A JSON string is a valid Go-style string literal, which is what Milvus's parser reads.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return str(_micros(value))
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a filter value: {value!r}")
    return repr(value)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _schema(spec: CollectionSpec) -> Any:
    schema = AsyncMilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(PRIMARY_KEY, DataType.INT64, is_primary=True)
    schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=spec.dimension)
    for name, kind in spec.payload_fields.items():
        if kind == PayloadType.KEYWORD:
            schema.add_field(name, DataType.VARCHAR, max_length=KEYWORD_MAX_LENGTH)
        else:
            schema.add_field(name, _FIELD_TYPES[PayloadType(kind)])
    return schema


def _row(spec: CollectionSpec, point: Point) -> dict[str, Any]:
    row: dict[str, Any] = {PRIMARY_KEY: point.id, VECTOR_FIELD: list(point.vector)}
    extra = set(point.payload) - set(spec.payload_fields)
    if extra:
        raise ValueError(f"{spec.name}: payload fields {sorted(extra)} are not in the spec")
    for name, kind in spec.payload_fields.items():
        if name not in point.payload:
            raise ValueError(f"{spec.name}: point {point.id} lacks payload field {name!r}")
        value = point.payload[name]
        if kind == PayloadType.DATETIME:
            if not isinstance(value, datetime):
                raise ValueError(f"{spec.name}: {name!r} must be a datetime, got {value!r}")
            row[name] = _micros(value)
        elif kind == PayloadType.FLOAT:
            row[name] = float(value)  # type: ignore[arg-type]
        else:
            row[name] = value
    return row


def _payload(spec: CollectionSpec, entity: Mapping[str, Any]) -> dict[str, PayloadValue]:
    out: dict[str, PayloadValue] = {}
    for name, kind in spec.payload_fields.items():
        value = entity[name]
        out[name] = (
            _EPOCH + timedelta(microseconds=value) if kind == PayloadType.DATETIME else value
        )
    return out
