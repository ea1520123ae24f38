"""recsys-api under a real HTTP load generator (wrk): requests/s and p50/p99 of
``GET /recommendations/{user_id}?k=10`` and ``GET /products/search?q=...&k=10`` on the cache-hit
path and the cache-miss path, beside the floor a cache hit cannot beat: the raw Redis ``GET``
round trip of a cached value of the same size, measured in the same run on the same Redis.

What it does, in a namespace of its own, dropped after (a running ``make run`` is left alone):

1. Seeds the stores: the producer's catalog (:data:`PRODUCTS` products, encoded with the real
   ONNX all-MiniLM-L6-v2) in Milvus ``<prefix>products``; :data:`SESSIONS` sessions of
   :data:`USERS` users (``producer.generators.UserBehaviour``), folded into profile vectors (the
   normalised, weighted mean of their products' vectors, with the embedder's event weights) in
   ``<prefix>user_profiles``, written to Neo4j by graph-writer's own sinks under a label prefix,
   and summed into engagement scores in a PostgreSQL schema of its own.
2. Starts two ``python -m recsys_api`` processes on free ports: one with the cache (a Redis key
   prefix of its own), one with ``RECSYS_API_CACHE__ENABLED=false`` (every request
   computes: the miss path). Rate limiting off, no invalidation consumer.
3. Runs wrk with a Lua script that rotates over every seeded user (or :data:`QUERIES` search
   queries): at low concurrency (``-t1 -c1``: the latency figure) and at saturation
   (``-t2 -c16``: the throughput figure). The miss path on the uncached instance; the hit path on
   the cached one, right after a warm-up pass over every key. Its TTLs are raised to 600 s
   (:data:`HIT_TTL_S`): at miss speed the warm-up of 500 users takes about as long as the
   default 60 s of recommendations, so its first keys would expire before the hit runs.
4. The floor: sequential ``GET``s through ``redis.asyncio`` of a copy of a cached
   recommendations value, and ``redis-benchmark`` of the same ``GET`` (``-c 1`` and ``-c 16``).
   The cache-hit ratio the cached instance saw, and the per-step time of the misses (vector,
   graph, rank), come from each instance's ``/metrics``.

``.venv/bin/python bench/recsys_http.py`` (or ``python bench/run.py --only recsys-http``) writes
bench/results/recsys-http.json. wrk is installed from apt when missing. Not a test: nothing here
asserts a timing. On the shared 2-core machine, wrk, both API processes and every store share the
CPUs: the load average at start and end is recorded beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import numpy as np
import redis.asyncio as aioredis
import wrk
from neo4j import AsyncGraphDatabase
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from pymilvus import MilvusClient
from pymongo import AsyncMongoClient
from results_file import write_results

from embedder.settings import ProfileSettings
from graph_writer.bootstrap import bootstrap
from graph_writer.catalog import ProductGraphSink
from graph_writer.interactions import InteractionGraphSink
from graph_writer.invalidations import RecordingPublisher
from graph_writer.settings import GraphWriterSettings
from polystream_common.schemas import AnyUserEvent, Product
from polystream_common.settings import Neo4jSettings
from polystream_common.sink import SinkRecord
from polystream_common.topics import PRODUCTS as PRODUCTS_TOPIC
from polystream_common.topics import USER_EVENTS
from polystream_embeddings.encoder import load_encoder
from polystream_embeddings.settings import EmbeddingSettings
from polystream_readmodels.engagement import ENGAGEMENT_MIGRATIONS
from polystream_readmodels.graph import GraphLabels
from polystream_vectors.collections import (
    PRODUCTS,
    USER_PROFILES,
    product_point,
    product_text,
    products_collection,
    user_profiles_collection,
)
from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.settings import MilvusSettings
from polystream_vectors.store import Point, point_id
from polystream_web.server import free_port
from producer.generators import Catalog, UserBehaviour
from producer.vocabulary import CATEGORIES

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / ".cache" / "models" / "all-MiniLM-L6-v2"

SEED = 1
PRODUCTS_COUNT = 2_000
USERS = 500
SESSIONS = 5_000  # ~10 a user: ~50 events each, ~25 distinct products
CAMPAIGNS = 12
QUERIES = 50
K = 10
LOW = (1, 1)  # wrk threads, connections: the latency figure
SATURATION = (2, 16)  # the throughput figure
LOW_S, SATURATION_S = 10, 12
WARM_UP_CONCURRENCY = 8
FLOOR_GETS = 5_000
GRAPH_BATCH = 5_000  # the consumer loop's default batch size
START = datetime(2026, 1, 1, tzinfo=UTC)
TARGETS = {"hit_p99_ms": 5.0, "miss_p99_ms": 100.0}
STEP, STEPS = "polystream_recommend_step_seconds", ("vector", "graph", "rank")
# The cached instance's TTLs: the warm-up of every user runs at miss speed (~1 min for 500 users
# on the shared 2-core machine, longer than the default 60 s of recommendations), so the keys
# it writes must outlive it and the hit runs after it.
HIT_TTL_S = {"recommendations": 600.0, "search": 600.0, "analytics": 30.0}

# wrk's requests: rotates over the paths (bench/wrk.py appends the figures' printer).
WRK_LUA = """
local paths = { __PATHS__ }
local counter = 0
setup = function(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end
init = function(args)
  i = offset or 0
end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""


class StepClock:
    """Event time that advances by ``gap`` at each event, so sessions lie in time in order."""

    def __init__(self, start: datetime, gap: timedelta) -> None:
        self._now, self._gap = start, gap

    def __call__(self) -> datetime:
        self._now += self._gap
        return self._now


@dataclass(frozen=True)
class BenchNamespace:
    """This run's names in every store; :func:`drop_namespace` deletes what they hold."""

    tag: str

    @property
    def collection_prefix(self) -> str:
        return f"bench_{self.tag}_"

    @property
    def label_prefix(self) -> str:
        return f"bench_{self.tag}_"

    @property
    def schema(self) -> str:
        return f"bench_{self.tag}"

    @property
    def database(self) -> str:
        return f"bench_{self.tag}"

    @property
    def cache_prefix(self) -> str:
        return f"bench-{self.tag}"


@dataclass(frozen=True)
class Stack:
    """The local stack's servers (deploy/local/stack.env)."""

    env: dict[str, str]

    @property
    def milvus_uri(self) -> str:
        return f"http://127.0.0.1:{self.env['MILVUS_PORT']}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.env['REDIS_PORT']}/0"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.env['MONGO_PORT']}"

    @property
    def neo4j(self) -> Neo4jSettings:
        return Neo4jSettings(
            uri=f"bolt://127.0.0.1:{self.env['NEO4J_BOLT_PORT']}",
            user=self.env["NEO4J_USER"],
            password=SecretStr(self.env["NEO4J_PASSWORD"]),
        )

    def pg_kwargs(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": int(self.env["POSTGRES_PORT"]),
            "user": self.env["POSTGRES_USER"],
            "password": self.env["POSTGRES_PASSWORD"],
            "database": self.env["POSTGRES_DB"],
        }


# -- the data set ---------------------------------------------------------------------------------


@dataclass
class DataSet:
    products: list[Product]
    events: list[AnyUserEvent]
    users: list[str]  # those with a profile, in id order
    queries: list[str]


def synthetic_data(seed: int, products: int, users: int, sessions: int) -> DataSet:
    rng = random.Random(seed)
    clock = StepClock(START, timedelta(seconds=30))
    catalog = Catalog(random.Random(rng.getrandbits(64)), products=products, clock=clock)
    behaviour = UserBehaviour(
        random.Random(rng.getrandbits(64)),
        catalog,
        users_count=users,
        campaigns_count=CAMPAIGNS,
        clock=clock,
    )
    events: list[AnyUserEvent] = [e for _ in range(sessions) for e in behaviour.session()]
    with_products = sorted({e.user_id for e in events if e.product_id})
    return DataSet(catalog.products, events, with_products, search_queries(QUERIES))


def search_queries(count: int) -> list[str]:
    """``count`` shopper-like queries from the generator's vocabulary (synonyms, not the product
    nouns, with a use), round-robin over the categories so each is asked about."""
    per_category = [
        [
            f"{synonym} for {category.uses[i % len(category.uses)]}"
            for i, (kind, synonym) in enumerate(
                (kind, synonym) for kind in category.kinds for synonym in kind.synonyms
            )
        ]
        for category in CATEGORIES
    ]
    queries: list[str] = []
    for i in range(max(len(q) for q in per_category)):
        queries.extend(q[i] for q in per_category if i < len(q))
    return queries[:count]


def profile_points(
    events: Sequence[AnyUserEvent], vectors: dict[str, np.ndarray], now: datetime
) -> list[Point]:
    """Each user's profile: the normalised weighted mean of their products' vectors, with the
    embedder's event weights (no decay: the bench's events are all of one recent week)."""
    weights = ProfileSettings().event_weights
    totals: dict[str, np.ndarray] = {}
    weight_of: dict[str, float] = defaultdict(float)
    for e in events:
        if e.product_id is None:
            continue
        w = weights.get(e.event_type, 0.0)
        vector = vectors[e.product_id]
        totals[e.user_id] = totals.get(e.user_id, np.zeros_like(vector)) + w * vector
        weight_of[e.user_id] += w
    points = []
    for user, total in sorted(totals.items()):
        norm = float(np.linalg.norm(total))
        points.append(
            Point(
                id=point_id(user),
                vector=(total / norm).astype(np.float32).tolist(),
                payload={
                    "user_id": user,
                    "updated_at": now,
                    "norm": norm,
                    "weight": weight_of[user],
                    "events_offset": -1,
                    "chat_offset": -1,
                },
            )
        )
    return points


def engagement_rows(events: Sequence[AnyUserEvent], now: datetime) -> list[tuple[Any, ...]]:
    """engagement_scores rows: per product (events naming it) and campaign (its views and
    clicks), the weighted count with the embedder's weights and the count of each type."""
    weights = {str(t): w for t, w in ProfileSettings().event_weights.items()}
    columns = ("view", "click", "add_to_cart", "purchase", "campaign_view", "campaign_click")
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(columns, 0))
    for e in events:
        if e.product_id is not None:
            counts[("product", e.product_id)][e.event_type] += 1
        if e.campaign_id is not None and e.event_type.startswith("campaign_"):
            counts[("campaign", e.campaign_id)][e.event_type] += 1
    week = 7 * 24 * 3600.0
    return [
        (
            kind,
            id_,
            sum(weights.get(t, 0.0) * n for t, n in c.items()),
            now,
            week,
            *(c[t] for t in columns),
        )
        for (kind, id_), c in sorted(counts.items())
    ]


async def seed_namespace(stack: Stack, ns: BenchNamespace, data: DataSet) -> dict[str, Any]:
    """Writes the data set into the namespace; returns what was written and how long it took."""
    now = datetime.now(UTC)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    encoder = load_encoder(EmbeddingSettings(model_dir=MODEL_DIR, backend="onnx"))
    matrix = await asyncio.to_thread(encoder.encode, [product_text(p) for p in data.products])
    vectors = {p.product_id: matrix[i] for i, p in enumerate(data.products)}
    timings["encode_products_s"] = time.perf_counter() - started

    started = time.perf_counter()
    products_name = ns.collection_prefix + PRODUCTS
    profiles_name = ns.collection_prefix + USER_PROFILES
    profiles = profile_points(data.events, vectors, now)
    async with MilvusVectorStore(MilvusSettings(uri=stack.milvus_uri)) as store:
        await store.ensure_collection(products_collection(encoder.dimension, products_name))
        await store.ensure_collection(user_profiles_collection(encoder.dimension, profiles_name))
        points = [product_point(p, vectors[p.product_id].tolist()) for p in data.products]
        for start in range(0, len(points), 500):
            await store.upsert(products_name, points[start : start + 500])
        for start in range(0, len(profiles), 500):
            await store.upsert(profiles_name, profiles[start : start + 500])
    timings["milvus_s"] = time.perf_counter() - started

    started = time.perf_counter()
    settings = GraphWriterSettings(neo4j=stack.neo4j, label_prefix=ns.label_prefix, metrics_port=0)
    routes = bootstrap(settings, publisher=RecordingPublisher())
    interactions, catalog = routes[0].sink, routes[1].sink
    assert isinstance(interactions, InteractionGraphSink)
    assert isinstance(catalog, ProductGraphSink)
    async with AsyncExitStack() as sinks:
        for sink in (interactions, catalog):
            await sink.setup()
            sinks.push_async_callback(sink.close)
        product_records = [
            SinkRecord(p, PRODUCTS_TOPIC.topic, 0, offset, p.key())
            for offset, p in enumerate(data.products)
        ]
        for start in range(0, len(product_records), GRAPH_BATCH):
            if await catalog.write(product_records[start : start + GRAPH_BATCH]):
                raise RuntimeError("graph-writer refused catalog records")
        event_records = [
            SinkRecord(e, USER_EVENTS.topic, 0, offset, e.key())
            for offset, e in enumerate(data.events)
        ]
        for start in range(0, len(event_records), GRAPH_BATCH):
            if await interactions.write(event_records[start : start + GRAPH_BATCH]):
                raise RuntimeError("graph-writer refused user events")
    timings["neo4j_s"] = time.perf_counter() - started

    started = time.perf_counter()
    rows = engagement_rows(data.events, now)
    conn = await asyncpg.connect(**stack.pg_kwargs())
    try:
        await ENGAGEMENT_MIGRATIONS.apply(conn, ns.schema)
        await conn.executemany(
            f'INSERT INTO "{ns.schema}".engagement_scores (entity_type, entity_id, score, as_of,'
            " half_life_s, views, clicks, add_to_carts, purchases, campaign_views,"
            " campaign_clicks) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            rows,
        )
    finally:
        await conn.close()
    timings["postgres_s"] = time.perf_counter() - started
    return {
        "products": len(data.products),
        "users_with_profile": len(profiles),
        "sessions": SESSIONS,
        "user_events": len(data.events),
        "engagement_rows": len(rows),
        "search_queries": len(data.queries),
        "seconds": {name: round(s, 1) for name, s in timings.items()},
    }


async def drop_namespace(stack: Stack, ns: BenchNamespace) -> None:
    """Deletes everything under the namespace's names; each store is tried even if one fails."""
    errors: list[BaseException] = []

    def drop_milvus() -> None:
        client = MilvusClient(uri=stack.milvus_uri)
        try:
            for name in client.list_collections():
                if name.startswith(ns.collection_prefix):
                    client.drop_collection(name)
        finally:
            client.close()

    async def drop_graph() -> None:
        n4j = stack.neo4j
        auth = (n4j.user, n4j.password.get_secret_value())
        async with AsyncGraphDatabase.driver(n4j.uri, auth=auth) as driver:
            labels = GraphLabels(ns.label_prefix)
            for label in labels.all():
                await driver.execute_query(f"MATCH (n:`{label}`) DETACH DELETE n")
            for name in labels.constraint_names():
                await driver.execute_query(f"DROP CONSTRAINT `{name}` IF EXISTS")

    async def drop_schema() -> None:
        conn = await asyncpg.connect(**stack.pg_kwargs())
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{ns.schema}" CASCADE')
        finally:
            await conn.close()

    async def drop_mongo() -> None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
        try:
            await client.drop_database(ns.database)
        finally:
            await client.close()

    async def drop_redis() -> None:
        client = aioredis.Redis.from_url(stack.redis_url)
        try:
            keys = [k async for k in client.scan_iter(match=f"{ns.cache_prefix}:*", count=1000)]
            for start in range(0, len(keys), 1000):
                await client.delete(*keys[start : start + 1000])
        finally:
            await client.aclose()

    for step in (asyncio.to_thread(drop_milvus), drop_graph(), drop_schema(), drop_mongo()):
        try:
            await step
        except Exception as exc:  # the others are still dropped; the first failure is raised
            errors.append(exc)
    try:
        await drop_redis()
    except Exception as exc:
        errors.append(exc)
    if errors:
        raise errors[0]


# -- the API processes ----------------------------------------------------------------------------


def api_env(stack: Stack, ns: BenchNamespace, port: int, *, cache: bool) -> dict[str, str]:
    """``RECSYS_API_*`` settings of one instance in the namespace; ``cache=False``: every request
    computes (the miss path)."""
    n4j = stack.neo4j
    settings = {
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "INVALIDATIONS": "false",
        "RATE_LIMIT__ENABLED": "false",
        "EMBEDDING__MODEL_DIR": str(MODEL_DIR),
        "EMBEDDING__BACKEND": "onnx",
        "MILVUS__URI": stack.milvus_uri,  # reads stay at recsys-api's default, Bounded
        "COLLECTION_PREFIX": ns.collection_prefix,
        "NEO4J__URI": n4j.uri,
        "NEO4J__USER": n4j.user,
        "NEO4J__PASSWORD": n4j.password.get_secret_value(),
        "LABEL_PREFIX": ns.label_prefix,
        "POSTGRES__HOST": "127.0.0.1",
        "POSTGRES__PORT": stack.env["POSTGRES_PORT"],
        "POSTGRES__USER": stack.env["POSTGRES_USER"],
        "POSTGRES__PASSWORD": stack.env["POSTGRES_PASSWORD"],
        "POSTGRES__DATABASE": stack.env["POSTGRES_DB"],
        "POSTGRES_SCHEMA": ns.schema,
        "MONGO__URL": stack.mongo_url,
        "MONGO__DATABASE": ns.database,
        "REDIS__URL": stack.redis_url,
        "CACHE__KEY_PREFIX": ns.cache_prefix,
        "CACHE__ENABLED": "true" if cache else "false",
        "CACHE__TTL_S": json.dumps(HIT_TTL_S),
        "SERVICE_NAME": f"recsys-api-bench-{'cached' if cache else 'uncached'}",
    }
    return {f"RECSYS_API_{key}": value for key, value in settings.items()}


@asynccontextmanager
async def api_process(env: dict[str, str], log: Path) -> AsyncIterator[str]:
    """``python -m recsys_api`` with ``env``, ready (``/readyz`` 200); yields its base URL and
    stops it (SIGTERM, then SIGKILL after 30 s) on the way out."""
    url = f"http://127.0.0.1:{env['RECSYS_API_PORT']}"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 - the service under test, not awaited
            [sys.executable, "-m", "recsys_api"],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=url, timeout=5) as client:
                deadline = time.monotonic() + 180
                while True:
                    if proc.poll() is not None:
                        raise RuntimeError(f"recsys-api exited at start; see {log}")
                    try:
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"recsys-api not ready within 180 s; see {log}")
                    await asyncio.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait, 10)


# -- load and metrics -----------------------------------------------------------------------------


def write_lua(paths: Sequence[str], workdir: Path, name: str) -> Path:
    return wrk.write_script(workdir, name, WRK_LUA.replace("__PATHS__", wrk.lua_strings(paths)))


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    """Every sample of the instance's ``/metrics``, by name and labels."""
    response = await client.get("/metrics/")
    response.raise_for_status()
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def delta(after: Samples, before: Samples, name: str, **labels: str) -> dict[str, float]:
    """``name``'s samples that match ``labels``, after minus before, by their other labels."""
    out: dict[str, float] = {}
    for (sample, label_items), value in after.items():
        if sample != name:
            continue
        got = dict(label_items)
        if any(got.get(k) != v for k, v in labels.items()):
            continue
        rest = ",".join(f"{k}={v}" for k, v in label_items if k not in labels)
        out[rest] = value - before.get((sample, label_items), 0.0)
    return out


def histogram(after: Samples, before: Samples, name: str, **labels: str) -> dict[str, Any]:
    """Count, mean and p50/p99 (linear within the bucket, as PromQL's histogram_quantile) of
    one histogram's observations between two scrapes, summed over the labels not given."""
    cumulative: dict[float, float] = defaultdict(float)
    for key, n in delta(after, before, f"{name}_bucket", **labels).items():
        cumulative[float(dict(item.split("=", 1) for item in key.split(","))["le"])] += n
    buckets = sorted(cumulative.items())
    count = sum(delta(after, before, f"{name}_count", **labels).values())
    total = sum(delta(after, before, f"{name}_sum", **labels).values())
    if not count:
        return {"count": 0}

    def quantile(q: float) -> float | str:
        rank, lower, below = q * count, 0.0, 0.0
        for upper, at_most in buckets:
            if at_most >= rank:
                if math.isinf(upper):
                    return f">{lower * 1000:g}"
                inside = at_most - below
                share = (rank - below) / inside if inside else 1.0
                return round((lower + (upper - lower) * share) * 1000, 2)
            lower, below = upper, at_most
        return float("nan")

    return {
        "count": int(count),
        "mean_ms": round(total / count * 1000, 2),
        "p50_ms_from_buckets": quantile(0.5),
        "p99_ms_from_buckets": quantile(0.99),
    }


def cache_results(after: Samples, before: Samples) -> dict[str, dict[str, Any]]:
    """Lookups per kind and result, and the hit ratio, between two scrapes."""
    by_kind: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, n in delta(after, before, "polystream_cache_requests_total").items():
        labels = dict(item.split("=", 1) for item in key.split(","))
        by_kind[labels["kind"]][labels["result"]] = int(n)
    for counts in by_kind.values():
        total = sum(counts.values())
        counts["hit_ratio"] = round(counts.get("hit", 0) / total, 4) if total else None
    return dict(by_kind)


async def warm_up(client: httpx.AsyncClient, paths: Sequence[str]) -> float:
    """GET every path once, :data:`WARM_UP_CONCURRENCY` at a time; the seconds it took."""
    gate = asyncio.Semaphore(WARM_UP_CONCURRENCY)

    async def one(path: str) -> None:
        async with gate:
            response = await client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"warm-up GET {path}: {response.status_code} {response.text}")

    started = time.perf_counter()
    await asyncio.gather(*(one(p) for p in paths))
    return round(time.perf_counter() - started, 1)


async def redis_floor(redis_url: str, key: str, value: bytes) -> dict[str, Any]:
    """The raw round trip a cache hit cannot beat: sequential ``GET``s of ``value`` (a copy of a
    cached recommendations value) through redis.asyncio, and redis-benchmark of the same GET."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.set(key, value, ex=300)
        for _ in range(200):  # connection set up, caches warm
            await client.get(key)
        times = []
        for _ in range(FLOOR_GETS):
            started = time.perf_counter()
            await client.get(key)
            times.append(time.perf_counter() - started)
    finally:
        await client.aclose()
    ms = np.array(times) * 1000
    floor: dict[str, Any] = {
        "value_bytes": len(value),
        "redis_asyncio_sequential_get": {
            "gets": FLOOR_GETS,
            "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "mean_ms": round(float(ms.mean()), 3),
        },
    }
    benchmark = shutil.which("redis-benchmark")
    if benchmark:
        port = redis_url.rsplit(":", 1)[1].split("/")[0]
        runs = {}
        for clients in (1, 16):
            command = [benchmark, "-h", "127.0.0.1", "-p", port, "-n", "20000", "-c", str(clients)]
            command += ["--csv", "GET", key]
            out = await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True, check=True
            )
            header, row = (line.replace('"', "").split(",") for line in out.stdout.splitlines()[:2])
            figures = dict(zip(header, row, strict=True))
            runs[f"c{clients}"] = {
                "requests_per_s": float(figures["rps"]),
                "p50_ms": float(figures["p50_latency_ms"]),
                "p99_ms": float(figures["p99_latency_ms"]),
                "command": shlex.join(["redis-benchmark", *command[1:-1], "<key>"]),
            }
        floor["redis_benchmark_get"] = runs
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.delete(key)
    finally:
        await client.aclose()
    return floor


# -- the bench ------------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} recsys-http: {message}", file=sys.stderr, flush=True)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def load_phase(
    wrk_path: str,
    url: str,
    script: Path,
    client: httpx.AsyncClient,
    route: str,
) -> dict[str, Any]:
    """The low-concurrency and the saturation run of one path set, each with the instance's
    own view of its requests (server-side latency of ``route``, from /metrics)."""
    runs: dict[str, Any] = {}
    for name, (threads, connections), seconds in (
        ("low_concurrency", LOW, LOW_S),
        ("saturation", SATURATION, SATURATION_S),
    ):
        before = await scrape(client)
        run = await wrk.run(wrk_path, url, script, threads, connections, seconds)
        after = await scrape(client)
        run["server_side"] = histogram(
            after, before, "polystream_http_request_duration_seconds", route=route, status="200"
        )
        steps = {step: histogram(after, before, STEP, step=step) for step in STEPS}
        if any(figures["count"] for figures in steps.values()):
            run["recommend_steps"] = steps  # computed recommendations only: the misses
        runs[name] = run
        progress(
            f"{route} {name}: {run['requests_per_s']} req/s, p50 {run['latency_ms']['p50']} ms,"
            f" p99 {run['latency_ms']['p99']} ms, errors {run['errors']}"
        )
    return runs


async def bench_recsys_http(workdir: Path, seed: int = SEED) -> dict[str, Any]:
    """Seeds a namespace, starts the cached and the uncached instance, runs the loads and the
    Redis floor, drops the namespace; returns the figures."""
    sys.path.insert(0, str(ROOT / "bench"))
    import run  # bench/run.py, which imports this module: only once it is loaded

    stack = Stack(run.STACK)
    wrk_path = wrk.ensure_wrk()
    ns = BenchNamespace(uuid.uuid4().hex[:8])
    load_at_start = load_average()
    data = synthetic_data(seed, PRODUCTS_COUNT, USERS, SESSIONS)
    rec_paths = [f"/recommendations/{quote(user)}?k={K}" for user in data.users]
    search_paths = [f"/products/search?q={quote(q)}&k={K}" for q in data.queries]
    rec_script = write_lua(rec_paths, workdir, "recommendations")
    search_script = write_lua(search_paths, workdir, "search")
    rec_route, search_route = "/recommendations/{user_id}", "/products/search"
    try:
        progress(f"seeding namespace {ns.tag}")
        seeded = await seed_namespace(stack, ns, data)
        progress(f"seeded: {seeded}; starting the two instances")
        tree = measured_tree()  # what the two instances load
        cached_port, uncached_port = free_port(), free_port()
        async with AsyncExitStack() as processes:
            cached_url, uncached_url = await asyncio.gather(
                processes.enter_async_context(
                    api_process(api_env(stack, ns, cached_port, cache=True), workdir / "cached.log")
                ),
                processes.enter_async_context(
                    api_process(
                        api_env(stack, ns, uncached_port, cache=False), workdir / "uncached.log"
                    )
                ),
            )
            cached = await processes.enter_async_context(
                httpx.AsyncClient(base_url=cached_url, timeout=30)
            )
            uncached = await processes.enter_async_context(
                httpx.AsyncClient(base_url=uncached_url, timeout=30)
            )
            sample = (await uncached.get(rec_paths[0])).json()
            sample_search = (await uncached.get(search_paths[0])).json()
            if sample.get("strategy") != "hybrid" or not sample_search.get("results"):
                raise RuntimeError(f"unexpected answers: {sample} / {sample_search}")

            # The miss path: the uncached instance computes every request.
            progress("miss path: recommendations, then search")
            start_uncached = await scrape(uncached)
            miss_recs = await load_phase(wrk_path, uncached_url, rec_script, uncached, rec_route)
            miss_search = await load_phase(
                wrk_path, uncached_url, search_script, uncached, search_route
            )
            end_uncached = await scrape(uncached)

            # The hit path: each kind warmed (every key once), then loaded at once.
            progress("hit path: warming recommendations")
            start_cached = await scrape(cached)
            warm_recs_s = await warm_up(cached, rec_paths)
            value_key = f"{ns.cache_prefix}:recommendations:{data.users[0]}"
            async with aioredis.Redis.from_url(stack.redis_url) as r:
                cached_value = await r.get(value_key)
            if not isinstance(cached_value, bytes):
                lookups = cache_results(await scrape(cached), start_cached)
                log_tail = (workdir / "cached.log").read_text()[-3000:]
                raise RuntimeError(
                    f"no cached value at {value_key} after the warm-up: lookups {lookups};"
                    f" the cached instance's log ends with:\n{log_tail}"
                )
            before_hit_recs = await scrape(cached)
            hit_recs = await load_phase(wrk_path, cached_url, rec_script, cached, rec_route)
            after_hit_recs = await scrape(cached)
            warm_search_s = await warm_up(cached, search_paths)
            before_hit_search = await scrape(cached)
            hit_search = await load_phase(wrk_path, cached_url, search_script, cached, search_route)
            end_cached = await scrape(cached)
            cache = {
                "recommendations_hit_runs": cache_results(after_hit_recs, before_hit_recs).get(
                    "recommendations", {}
                ),
                "search_hit_runs": cache_results(end_cached, before_hit_search).get("search", {}),
                "whole_cached_load_with_warm_ups": cache_results(end_cached, start_cached),
            }
            uncached_lookups = cache_results(end_uncached, start_uncached)

        progress("the Redis GET floor")
        floor = await redis_floor(stack.redis_url, f"{ns.cache_prefix}:floor", cached_value)
    finally:
        await drop_namespace(stack, ns)

    floor_p99 = floor["redis_asyncio_sequential_get"]["p99_ms"]
    paths = {
        "recommendations": {"hit": hit_recs, "miss": miss_recs},
        "search": {"hit": hit_search, "miss": miss_search},
    }
    return {
        "parameters": {
            "seed": seed,
            "products": PRODUCTS_COUNT,
            "users": USERS,
            "sessions": SESSIONS,
            "k": K,
            "low_concurrency": {"threads": LOW[0], "connections": LOW[1], "seconds": LOW_S},
            "saturation": {
                "threads": SATURATION[0],
                "connections": SATURATION[1],
                "seconds": SATURATION_S,
            },
            "cached_instance_ttls_s": HIT_TTL_S,
            "encoder": "all-MiniLM-L6-v2 onnx (cpu)",
            "milvus_read_consistency": "Bounded (recsys-api's default): searches and retrieves",
            "instances": "2 x python -m recsys_api (uvicorn, 1 worker each), rate limit off",
            "warm_up_concurrency": WARM_UP_CONCURRENCY,
        },
        "load_average_1m_5m_15m": {"at_start": load_at_start, "at_end": load_average()},
        "make_run_port_8000_in_use": port_in_use(8000),
        "measured_tree": tree,
        "seeded": seeded,
        "warm_up_s": {"recommendations": warm_recs_s, "search": warm_search_s},
        "paths": paths,
        "miss_steps_uncached_instance": {
            level: miss_recs[level].get("recommend_steps", {})
            for level in ("low_concurrency", "saturation")
        },
        "uncached_instance_lookups": uncached_lookups,
        "cache_hit_ratio_cached_instance": cache,
        "redis_get_floor": floor,
        "targets": {
            **TARGETS,
            "verdicts": verdicts(paths),
        },
        "hit_p99_over_redis_get_p99": {
            kind: {
                level: round(paths[kind]["hit"][level]["latency_ms"]["p99"] / floor_p99, 1)
                for level in ("low_concurrency", "saturation")
            }
            for kind in paths
        },
        "sample_answer": {
            "user_id": sample["user_id"],
            "strategy": sample["strategy"],
            "items": len(sample["items"]),
            "similar_users": len(sample["similar_users"]),
        },
    }


def verdicts(paths: dict[str, dict[str, dict[str, Any]]]) -> dict[str, str]:
    """Each path and load level against its target, with the rate it was measured at."""
    out = {}
    for kind, by_path in paths.items():
        for path, target in (("hit", TARGETS["hit_p99_ms"]), ("miss", TARGETS["miss_p99_ms"])):
            for level, figures in by_path[path].items():
                p99 = figures["latency_ms"]["p99"]
                met = "met" if p99 < target else "missed"
                out[f"{kind}.{path}.{level}"] = (
                    f"{met}: p99 {p99} ms vs < {target:g} ms at {figures['requests_per_s']} req/s"
                )
    return out


def measured_tree() -> dict[str, Any]:
    """The commit the API ran from, and whether recsys-api or the libraries had edits on top."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    edited = git("status", "--porcelain", "--", "services/recsys-api", "libs")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted_edits": edited.splitlines()}


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the synthetic data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(bench_recsys_http(Path(tmp), args.seed))
    write_results("recsys-http", {"recsys_api_http": figures})


if __name__ == "__main__":
    main()
