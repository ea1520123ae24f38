"""Vector stores: our VectorStore adapters against the same engine's own client, in the same run.

For each store, the same rows go through our adapter (polystream_vectors) and through the
engine's client with no layer of ours, into two identically-shaped collections, so that each
ratio is the overhead of our adapter alone:

- upsert: points/s of ``points`` random unit 384-dim float32 vectors (fixed seed) with a payload
  like the products collection's (product_id and category keywords, price, updated_at), in
  batches of ``batch``;
- search: p50 and p99 latency (ms) of ``queries`` top-10 queries, unfiltered and with a category
  filter (one category of 10, about 10% of the points), the two sides' queries interleaved.

Our side is handed :class:`~polystream_vectors.store.Point` objects; the peer is handed what its
client takes (row dicts for pymilvus, ``PointStruct`` for qdrant-client), built before the clock
starts. Converting points to the engine's form is therefore counted against us: it is what the
adapter adds.

- Milvus: the local stack's server (MILVUS_PORT in deploy/local/stack.env); the peer is
  pymilvus's ``AsyncMilvusClient``, collection created by hand with the adapter's schema, HNSW
  (M=16, efConstruction=200) / COSINE index, ef=64 and consistency level. Twice: at Strong (the
  adapter's default), where every search waits for the server's next time tick (~200 ms) and
  hides the client's share, and at Bounded, which does not wait and shows it.
- Qdrant: qdrant-client's in-process local mode in a temporary directory (no Qdrant server here);
  the peer is ``AsyncQdrantClient(path=...)``. Local mode is pure Python (a brute-force scan and
  one SQLite write per point), so it gets fewer points and queries; its figures measure the
  adapter's overhead over local mode, not Qdrant.

Each store runs ``repeat`` times (3), each time in fresh collections with the two sides' order
swapped; every figure is reported from the run with the median ratio, with every run's ratio
beside it. Ratios are ours/peer for throughput and peer/ours for latency: 1.0 means no overhead,
higher is better. Collections are named ``bench_<uuid8>_...`` and dropped after; nothing else on
the server is touched. Not a test: nothing here asserts a timing.

``python bench/vector_stores.py`` writes bench/results/vector_stores.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import AsyncMilvusClient, DataType
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm
from results_file import write_results
from stack_env import read_stack_env

from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.qdrant import QdrantVectorStore
from polystream_vectors.settings import MilvusSettings, QdrantSettings
from polystream_vectors.store import (
    CollectionSpec,
    Filter,
    PayloadType,
    Point,
    point_id,
)

ROOT = Path(__file__).resolve().parents[1]

DIMENSION = 384
TOP_K = 10
SEED = 20240601
CATEGORIES = [f"category_{i}" for i in range(10)]
# The products collection's payload (embedder.sinks.ProductVectorSink writes these fields).
PAYLOAD_FIELDS = {
    "product_id": PayloadType.KEYWORD,
    "category": PayloadType.KEYWORD,
    "price": PayloadType.FLOAT,
    "updated_at": PayloadType.DATETIME,
}
# Queries run before the timed ones, on each side: the first searches of a fresh collection pay
# for loading and caches that a running service paid long ago.
WARMUP_QUERIES = 5
# MilvusVectorStore's defaults, written out again for the peer's collection and searches.
MILVUS_HNSW = {"M": 16, "efConstruction": 200}
MILVUS_SEARCH_EF = 64
MILVUS_KEYWORD_MAX_LENGTH = 1024
# Local mode writes each point to SQLite (~100-360 points/s) and scans every point per query
# (~1 s filtered at 50k).
QDRANT_LOCAL_POINTS = 3_000
QDRANT_LOCAL_QUERIES = 50

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Workload:
    """The points to upsert and the queries to run, the same for both sides."""

    points: list[Point]
    queries: list[list[float]]
    query_categories: list[str]


def make_workload(count: int, queries: int, seed: int = SEED) -> Workload:
    """``count`` products with random unit vectors (float32 values, as an encoder gives them)
    and ``queries`` random unit query vectors, each with the category its filtered search
    keeps."""
    rng = np.random.default_rng(seed)

    def unit_vectors(n: int) -> list[list[float]]:
        v = rng.standard_normal((n, DIMENSION), dtype=np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return [[float(x) for x in row] for row in v]

    vectors = unit_vectors(count)
    categories = rng.integers(0, len(CATEGORIES), count)
    prices = rng.uniform(1.0, 500.0, count).round(2)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    points = []
    for i in range(count):
        product_id = f"product-{i:07d}"
        points.append(
            Point(
                id=point_id(product_id),
                vector=vectors[i],
                payload={
                    "product_id": product_id,
                    "category": CATEGORIES[int(categories[i])],
                    "price": float(prices[i]),
                    "updated_at": start + timedelta(seconds=i),
                },
            )
        )
    query_categories = [CATEGORIES[i % len(CATEGORIES)] for i in range(queries)]
    return Workload(points, unit_vectors(queries), query_categories)


def spec(name: str) -> CollectionSpec:
    return CollectionSpec(name, DIMENSION, PAYLOAD_FIELDS)


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- measuring ---------------------------------------------------------------------------------


async def upsert_rate(
    write: Callable[[Sequence[Any]], Awaitable[None]], chunks: list[Any]
) -> float:
    """Items/s of ``write`` over every chunk, one after another."""
    started = time.perf_counter()
    for chunk in chunks:
        await write(chunk)
    return sum(len(c) for c in chunks) / (time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class SearchRun:
    """Latencies (ms) of the same queries on both sides, and how far their answers agree."""

    ours_ms: list[float]
    peer_ms: list[float]
    overlap: float  # mean share of the top-k ids both sides returned


async def search_latencies(
    ours: Callable[[int], Awaitable[list[int]]],
    peer: Callable[[int], Awaitable[list[int]]],
    queries: int,
) -> SearchRun:
    """Query ``i`` on both sides, one after the other, alternating which goes first, so that
    whatever else the machine does falls on both."""
    for i in range(min(WARMUP_QUERIES, queries)):
        await ours(i)
        await peer(i)
    ours_ms: list[float] = []
    peer_ms: list[float] = []
    overlaps: list[float] = []
    for i in range(queries):
        sides = [(ours, ours_ms), (peer, peer_ms)]
        answers: list[list[int]] = []
        for search, latencies in sides if i % 2 == 0 else sides[::-1]:
            started = time.perf_counter()
            answers.append(await search(i))
            latencies.append((time.perf_counter() - started) * 1000)
        a, b = answers
        overlaps.append(len(set(a) & set(b)) / max(len(a), len(b), 1))
    return SearchRun(ours_ms, peer_ms, statistics.fmean(overlaps))


def percentile(values: Sequence[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True, slots=True)
class Run:
    """One repetition's figures: name -> (ours, peer), and whether higher is better."""

    figures: dict[str, tuple[float, float, bool]]
    notes: dict[str, Any]


def search_figures(prefix: str, run: SearchRun) -> dict[str, tuple[float, float, bool]]:
    return {
        f"{prefix}_p50_ms": (percentile(run.ours_ms, 50), percentile(run.peer_ms, 50), False),
        f"{prefix}_p99_ms": (percentile(run.ours_ms, 99), percentile(run.peer_ms, 99), False),
    }


def median_figures(runs: list[Run]) -> dict[str, Any]:
    """Each figure from the run with its median ratio, with every run's ratio beside it."""
    out: dict[str, Any] = {}
    names = dict.fromkeys(name for run in runs for name in run.figures)
    for name in names:
        measured = []
        for run in runs:
            if name not in run.figures:
                continue
            ours, peer, higher_is_better = run.figures[name]
            ratio = ours / peer if higher_is_better else peer / ours
            measured.append((ratio, ours, peer))
        ratio, ours, peer = sorted(measured)[len(measured) // 2]
        digits = 0 if higher_is_better else 2
        out[name] = {
            "ours": round(ours, digits),
            "peer": round(peer, digits),
            "ratio": round(ratio, 3),
            "ratios_of_runs": [round(m[0], 3) for m in measured],
        }
    out["runs"] = [run.notes for run in runs]
    return out


# --- Milvus ------------------------------------------------------------------------------------


def milvus_rows(points: Sequence[Point]) -> list[dict[str, Any]]:
    """The rows pymilvus takes for ``points``, in the adapter's schema (datetimes as INT64
    microseconds since the epoch)."""
    rows = []
    for p in points:
        updated_at = p.payload["updated_at"]
        assert isinstance(updated_at, datetime)
        rows.append(
            {
                "id": p.id,
                "vector": p.vector,
                "product_id": p.payload["product_id"],
                "category": p.payload["category"],
                "price": p.payload["price"],
                "updated_at": (updated_at - _EPOCH) // timedelta(microseconds=1),
            }
        )
    return rows


async def create_milvus_peer_collection(
    client: AsyncMilvusClient, name: str, consistency: str
) -> None:
    """The collection MilvusVectorStore.ensure_collection creates for :func:`spec`, by hand."""
    schema = AsyncMilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIMENSION)
    schema.add_field("product_id", DataType.VARCHAR, max_length=MILVUS_KEYWORD_MAX_LENGTH)
    schema.add_field("category", DataType.VARCHAR, max_length=MILVUS_KEYWORD_MAX_LENGTH)
    schema.add_field("price", DataType.DOUBLE)
    schema.add_field("updated_at", DataType.INT64)
    index = AsyncMilvusClient.prepare_index_params()
    index.add_index(
        field_name="vector", index_type="HNSW", metric_type="COSINE", params=MILVUS_HNSW
    )
    await client.create_collection(
        name, schema=schema, index_params=index, consistency_level=consistency
    )
    await client.load_collection(name)


async def milvus_shape(client: AsyncMilvusClient, name: str) -> Any:
    """What must be equal between the two sides' collections: fields, index, consistency."""
    described = await client.describe_collection(name)
    index = await client.describe_index(name, "vector")
    fields = [
        (f["name"], str(f["type"]), f.get("params", {}), f.get("is_primary", False))
        for f in described["fields"]
    ]
    index_shape = {k: index.get(k) for k in ("index_type", "metric_type", "M", "efConstruction")}
    return fields, index_shape, described.get("consistency_level")


async def milvus_count(client: AsyncMilvusClient, name: str) -> int:
    # Strong whatever the collection's level: every acknowledged upsert counts.
    rows = await client.query(
        name, filter="", output_fields=["count(*)"], consistency_level="Strong"
    )
    return int(rows[0]["count(*)"])


async def milvus_run(
    uri: str,
    workload: Workload,
    batch: int,
    prefix: str,
    rep: int,
    queries: int,
    consistency: str,
) -> Run:
    """Upsert into a fresh pair of collections at ``consistency``, then ``queries`` searches of
    each kind (none if 0)."""
    tag = f"{consistency.lower()}_{rep}"
    ours_name, peer_name = f"{prefix}_milvus_ours_{tag}", f"{prefix}_milvus_peer_{tag}"
    chunks = batches(workload.points, batch)
    row_chunks = batches(milvus_rows(workload.points), batch)
    output_fields = list(PAYLOAD_FIELDS)
    search_params = {"metric_type": "COSINE", "params": {"ef": max(MILVUS_SEARCH_EF, TOP_K)}}
    peer = AsyncMilvusClient(uri=uri, timeout=60)
    try:
        settings = MilvusSettings(uri=uri, timeout_s=60)
        async with MilvusVectorStore(settings, consistency_level=consistency) as store:
            await store.ensure_collection(spec(ours_name))
            await create_milvus_peer_collection(peer, peer_name, consistency)
            ours_shape = await milvus_shape(peer, ours_name)
            if ours_shape != (peer_shape := await milvus_shape(peer, peer_name)):
                raise RuntimeError(f"collections differ: {ours_shape} vs {peer_shape}")

            async def ours_upsert(chunk: Sequence[Point]) -> None:
                await store.upsert(ours_name, chunk)

            async def peer_upsert(chunk: Sequence[dict[str, Any]]) -> None:
                await peer.upsert(peer_name, list(chunk))

            if rep % 2 == 0:
                ours_rate = await upsert_rate(ours_upsert, chunks)
                peer_rate = await upsert_rate(peer_upsert, row_chunks)
            else:
                peer_rate = await upsert_rate(peer_upsert, row_chunks)
                ours_rate = await upsert_rate(ours_upsert, chunks)
            counts = (await milvus_count(peer, ours_name), await milvus_count(peer, peer_name))
            if counts != (len(workload.points),) * 2:
                raise RuntimeError(f"stored {counts}, expected {len(workload.points)} each")

            def ours_search(filtered: bool) -> Callable[[int], Awaitable[list[int]]]:
                async def search(i: int) -> list[int]:
                    where = Filter(equals={"category": workload.query_categories[i]})
                    hits = await store.search(
                        ours_name, workload.queries[i], TOP_K, where if filtered else None
                    )
                    return [h.id for h in hits]

                return search

            def peer_search(filtered: bool) -> Callable[[int], Awaitable[list[int]]]:
                async def search(i: int) -> list[int]:
                    where = f'category == "{workload.query_categories[i]}"'
                    results = await peer.search(
                        peer_name,
                        data=[workload.queries[i]],
                        filter=where if filtered else "",
                        limit=TOP_K,
                        output_fields=output_fields,
                        anns_field="vector",
                        search_params=search_params,
                    )
                    return [int(hit["id"]) for hit in results[0]]

                return search

            figures = {"upsert_points_per_s": (ours_rate, peer_rate, True)}
            notes: dict[str, Any] = {"upsert_first": "ours" if rep % 2 == 0 else "peer"}
            if queries:
                plain = await search_latencies(ours_search(False), peer_search(False), queries)
                filtered = await search_latencies(ours_search(True), peer_search(True), queries)
                figures |= search_figures("search", plain)
                figures |= search_figures("filtered_search", filtered)
                notes["top_k_overlap"] = round(plain.overlap, 3)
                notes["filtered_top_k_overlap"] = round(filtered.overlap, 3)
    finally:
        for name in (ours_name, peer_name):
            if await peer.has_collection(name):
                await peer.drop_collection(name)
        await peer.close()
    return Run(figures, notes)


async def bench_milvus(
    uri: str, workload: Workload, batch: int, queries: int, repeat: int
) -> dict[str, Any]:
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    # At Strong every search waits for the server's next time tick (200 ms by default), on both
    # sides alike: 4 x ``queries`` searches take minutes, so they run in the last run only.
    strong = [
        await milvus_run(
            uri, workload, batch, prefix, rep, queries if rep == repeat - 1 else 0, "Strong"
        )
        for rep in range(repeat)
    ]
    # Bounded does not wait: its searches show what the adapter adds to a search.
    bounded = [
        await milvus_run(uri, workload, batch, prefix, rep, queries, "Bounded")
        for rep in range(repeat)
    ]
    return {
        "server": uri,
        "peer": "pymilvus AsyncMilvusClient: upsert(rows), search(data, filter, output_fields)",
        "points": len(workload.points),
        "batch": batch,
        "queries": queries,
        "top_k": TOP_K,
        "index": {"type": "HNSW", "metric": "COSINE", **MILVUS_HNSW, "search_ef": MILVUS_SEARCH_EF},
        "collection_prefix": prefix,
        "strong": {
            "consistency_level": "Strong (MilvusVectorStore's default)",
            "note": (
                "each search waits for the server's next time tick (~200 ms), on both sides: the "
                f"latencies are the server's, not the adapter's; searched in the last of the "
                f"{repeat} runs only"
            ),
            **median_figures(strong),
        },
        "bounded": {
            "consistency_level": "Bounded",
            "note": "searches do not wait for a time tick: the adapter's overhead per search",
            **median_figures(bounded),
        },
    }


# --- Qdrant local mode -------------------------------------------------------------------------


def qdrant_structs(points: Sequence[Point]) -> list[qm.PointStruct]:
    """The points qdrant-client takes, datetimes as RFC 3339 text (as the adapter stores them)."""
    return [
        qm.PointStruct(
            id=p.id,
            vector=list(p.vector),
            payload={
                k: v.isoformat() if isinstance(v, datetime) else v for k, v in p.payload.items()
            },
        )
        for p in points
    ]


async def qdrant_run(
    workdir: Path, workload: Workload, batch: int, prefix: str, rep: int, queries: int
) -> Run:
    # One local-mode directory per side, as two processes would have: neither side's storage
    # (one SQLite file per collection) grows with the other's points.
    name = f"{prefix}_qdrant_{rep}"
    chunks = batches(workload.points, batch)
    struct_chunks = batches(qdrant_structs(workload.points), batch)
    settings = QdrantSettings(path=workdir / f"ours_{rep}")
    peer = AsyncQdrantClient(path=str(workdir / f"peer_{rep}"))
    try:
        async with QdrantVectorStore(settings) as store:
            await store.ensure_collection(spec(name))
            await peer.create_collection(
                name, vectors_config=qm.VectorParams(size=DIMENSION, distance=qm.Distance.COSINE)
            )

            async def ours_upsert(chunk: Sequence[Point]) -> None:
                await store.upsert(name, chunk)

            async def peer_upsert(chunk: Sequence[qm.PointStruct]) -> None:
                await peer.upsert(name, points=list(chunk), wait=True)

            if rep % 2 == 0:
                ours_rate = await upsert_rate(ours_upsert, chunks)
                peer_rate = await upsert_rate(peer_upsert, struct_chunks)
            else:
                peer_rate = await upsert_rate(peer_upsert, struct_chunks)
                ours_rate = await upsert_rate(ours_upsert, chunks)
            counts = (
                (await store.client.count(name, exact=True)).count,
                (await peer.count(name, exact=True)).count,
            )
            if counts != (len(workload.points),) * 2:
                raise RuntimeError(f"stored {counts}, expected {len(workload.points)} each")

            def ours_search(filtered: bool) -> Callable[[int], Awaitable[list[int]]]:
                async def search(i: int) -> list[int]:
                    where = Filter(equals={"category": workload.query_categories[i]})
                    hits = await store.search(
                        name, workload.queries[i], TOP_K, where if filtered else None
                    )
                    return [h.id for h in hits]

                return search

            def peer_search(filtered: bool) -> Callable[[int], Awaitable[list[int]]]:
                async def search(i: int) -> list[int]:
                    where = qm.Filter(
                        must=[
                            qm.FieldCondition(
                                key="category",
                                match=qm.MatchValue(value=workload.query_categories[i]),
                            )
                        ]
                    )
                    response = await peer.query_points(
                        name,
                        query=workload.queries[i],
                        limit=TOP_K,
                        query_filter=where if filtered else None,
                        with_payload=True,
                    )
                    return [int(p.id) for p in response.points]

                return search

            plain = await search_latencies(ours_search(False), peer_search(False), queries)
            filtered = await search_latencies(ours_search(True), peer_search(True), queries)
            await store.client.delete_collection(name)
    finally:
        await peer.delete_collection(name)
        await peer.close()
    return Run(
        {
            "upsert_points_per_s": (ours_rate, peer_rate, True),
            **search_figures("search", plain),
            **search_figures("filtered_search", filtered),
        },
        {
            "upsert_first": "ours" if rep % 2 == 0 else "peer",
            "top_k_overlap": round(plain.overlap, 3),
            "filtered_top_k_overlap": round(filtered.overlap, 3),
        },
    )


async def bench_qdrant_local(
    workload: Workload, batch: int, queries: int, repeat: int
) -> dict[str, Any]:
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-qdrant-") as tmp:
        runs = [
            await qdrant_run(Path(tmp), workload, batch, prefix, rep, queries)
            for rep in range(repeat)
        ]
    return {
        "server": "qdrant-client local mode (in process, path= a temporary directory)",
        "peer": "qdrant_client AsyncQdrantClient(path=...): upsert(PointStruct, wait=True), "
        "query_points(with_payload=True)",
        "points": len(workload.points),
        "batch": batch,
        "queries": queries,
        "top_k": TOP_K,
        "note": (
            f"fewer points and queries than Milvus ({len(workload.points)} and {queries}): local "
            "mode is pure Python: one SQLite write per point (a few hundred points/s at "
            "best) and a brute-force scan per query (~1 s filtered at 50k points). It has no "
            "payload indexes (the adapter creates none there)."
        ),
        "collection_prefix": prefix,
        **median_figures(runs),
    }


# --- entry points ------------------------------------------------------------------------------


async def bench_vector_stores(
    points: int = 20_000,
    batch: int = 500,
    queries: int = 300,
    *,
    qdrant_points: int = QDRANT_LOCAL_POINTS,
    qdrant_queries: int = QDRANT_LOCAL_QUERIES,
    repeat: int = 3,
) -> dict[str, Any]:
    """Upsert/s and search p50/p99 of our Milvus and Qdrant (local mode) adapters, each as a
    ratio to the engine's own client on the same rows, in the same run (see the module
    docstring). Milvus is the local stack's server."""
    uri = f"http://127.0.0.1:{read_stack_env()['MILVUS_PORT']}"
    milvus = await bench_milvus(uri, make_workload(points, queries), batch, queries, repeat)
    qdrant_workload = make_workload(min(points, qdrant_points), min(queries, qdrant_queries))
    qdrant = await bench_qdrant_local(qdrant_workload, batch, len(qdrant_workload.queries), repeat)
    return {
        "vectors": {"dimension": DIMENSION, "dtype": "float32, L2-normalised", "seed": SEED},
        "payload": {name: str(kind) for name, kind in PAYLOAD_FIELDS.items()},
        "filter": f"category == one of {len(CATEGORIES)} values (~10% of points)",
        "ratios": "ours/peer for upsert, peer/ours for latency: 1.0 = no overhead, higher better",
        "milvus_vs_pymilvus": milvus,
        "qdrant_local_vs_qdrant_client": qdrant,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=20_000, help="points upserted to Milvus")
    parser.add_argument("--batch", type=int, default=500, help="points per upsert")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per Milvus search")
    parser.add_argument("--qdrant-points", type=int, default=QDRANT_LOCAL_POINTS)
    parser.add_argument("--qdrant-queries", type=int, default=QDRANT_LOCAL_QUERIES)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each store; the median ratio is reported"
    )
    args = parser.parse_args()
    figures = asyncio.run(
        bench_vector_stores(
            args.points,
            args.batch,
            args.queries,
            qdrant_points=args.qdrant_points,
            qdrant_queries=args.qdrant_queries,
            repeat=args.repeat,
        )
    )
    write_results("vector_stores", figures)


if __name__ == "__main__":
    main()
