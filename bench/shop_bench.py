"""shop-api's order flow under a real HTTP load generator (wrk): orders/s and p50/p99 of
``POST /orders`` (one line, quantity 1, a unique Idempotency-Key per request) on a **hot**
product (every order locks the same stock row: contention) and on **spread** products (1,000 of
them, rotated), beside the floor an order cannot beat: a raw single-statement stock deduction
``UPDATE products SET stock = stock - 1 WHERE product_id = $1 AND stock >= 1 RETURNING stock``
through asyncpg on the same PostgreSQL, same rows, same concurrency, in the same run.

What it does, in a namespace of its own, dropped after (a running ``make run`` is left alone):

1. Migrates a PostgreSQL schema of its own and seeds the hot product and the spread ones with
   stock that no run can exhaust (every request should be a 201; a 409 would be counted).
2. Starts ``python -m shop_api serve`` on a free port (rate limits off, a Redis key prefix and a
   MongoDB database of its own; orders carry their items, so the cart is not read).
3. Runs wrk with a Lua script that POSTs orders with unique keys, at low concurrency
   (``-t1 -c1``: the latency figure) and at saturation (``-t2 -c16``: the throughput figure).
4. The floor: the raw UPDATE at 1 and at 16 concurrent connections, hot and spread.
5. Checks what the load did, once the server has stopped: orders in PostgreSQL = units ordered
   = stock deducted, and at least the 2xx answers wrk counted (requests in flight when wrk
   stops still commit, uncounted).

``.venv/bin/python bench/shop_bench.py`` (or ``python bench/run.py --only shop``) writes
bench/results/shop.json. wrk is installed from apt when missing. Not a test: nothing
here asserts a timing. On the shared 2-core machine wrk, the API and PostgreSQL share the CPUs:
the load average at start and end is recorded beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import wrk
from pymongo import MongoClient
from results_file import write_results
from stack_env import read_stack_env

from polystream_common.settings import PostgresSettings
from polystream_web.server import free_port
from shop_api.store import SHOP_MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]

SPREAD_PRODUCTS = 1_000
STOCK = 1_000_000_000
LOW = (1, 1)
SATURATION = (2, 16)
SECONDS = 10
FLOOR_SECONDS = 5.0

ORDERS_LUA = """
local products = { __PRODUCTS__ }
local counter = 0
setup = function(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
init = function(args)
  n = (tid or 0) * 7919
  prefix = "__RUN__-t" .. (tid or 0) .. "-"
end
request = function()
  n = n + 1
  local pid = products[(n % #products) + 1]
  local body = '{"customer_id":"c' .. (n % 997) .. '","items":[{"product_id":"'
    .. pid .. '","quantity":1}]}'
  return wrk.format("POST", "/orders",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = prefix .. n}, body)
end
"""


def postgres_settings(stack: dict[str, str]) -> PostgresSettings:
    return PostgresSettings(
        port=int(stack["POSTGRES_PORT"]),
        user=stack["POSTGRES_USER"],
        password=stack["POSTGRES_PASSWORD"],  # type: ignore[arg-type]
        database=stack["POSTGRES_DB"],
    )


def write_lua(products: list[str], run: str, workdir: Path, name: str) -> Path:
    lua = ORDERS_LUA.replace("__PRODUCTS__", wrk.lua_strings(products)).replace("__RUN__", run)
    return wrk.write_script(workdir, name, lua)


async def raw_floor(
    pg: PostgresSettings, schema: str, products: list[str], concurrency: int
) -> dict[str, Any]:
    """The single-statement deduction, ``concurrency`` connections, for FLOOR_SECONDS."""
    sql = (
        "UPDATE products SET stock = stock - 1 WHERE product_id = $1 AND stock >= 1 RETURNING stock"
    )
    latencies: list[float] = []
    deadline = time.perf_counter() + FLOOR_SECONDS

    async def worker(offset: int) -> None:
        conn = await asyncpg.connect(
            **pg.connect_kwargs(), server_settings={"search_path": f'"{schema}"'}
        )
        try:
            n = offset * 7919
            while time.perf_counter() < deadline:
                n += 1
                started = time.perf_counter()
                await conn.fetchval(sql, products[n % len(products)])
                latencies.append(time.perf_counter() - started)
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)

    return {
        "connections": concurrency,
        "statements": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {"p50": pct(0.5), "p99": pct(0.99)},
    }


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"shop-api exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("shop-api did not become ready")


async def bench_shop(workdir: Path) -> dict[str, Any]:
    stack = read_stack_env()
    pg = postgres_settings(stack)
    ns = f"bench_shop_{uuid.uuid4().hex[:8]}"
    hot, spread = ["hot"], [f"p{i:04d}" for i in range(SPREAD_PRODUCTS)]
    conn = await asyncpg.connect(**pg.connect_kwargs())
    await SHOP_MIGRATIONS.apply(conn, ns)
    await conn.execute(
        f'INSERT INTO "{ns}".products (product_id, name, category, price, stock,'
        " catalog_event_time) SELECT id, id, 'bench', 9.99, $2, now() FROM unnest($1::text[]) id",
        hot + spread,
        STOCK,
    )
    port = free_port()
    env = {
        **os.environ,
        "SHOP_API_PORT": str(port),
        "SHOP_API_POSTGRES__PORT": stack["POSTGRES_PORT"],
        "SHOP_API_POSTGRES__USER": stack["POSTGRES_USER"],
        "SHOP_API_POSTGRES__PASSWORD": stack["POSTGRES_PASSWORD"],
        "SHOP_API_POSTGRES__DATABASE": stack["POSTGRES_DB"],
        "SHOP_API_POSTGRES__POOL_MAX_SIZE": "16",
        "SHOP_API_POSTGRES_SCHEMA": ns,
        "SHOP_API_MONGO__URL": f"mongodb://127.0.0.1:{stack['MONGO_PORT']}",
        "SHOP_API_MONGO__DATABASE": ns,
        "SHOP_API_REDIS__URL": f"redis://127.0.0.1:{stack['REDIS_PORT']}/0",
        "SHOP_API_CACHE__KEY_PREFIX": ns,
        "SHOP_API_RATE_LIMIT__ENABLED": "false",
        "SHOP_API_LOG_LEVEL": "WARNING",
    }
    log = (workdir / "shop-api.log").open("wb")
    process = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "shop_api", "serve"],
        env=env,
        stdout=log,
        stderr=log,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    wrk_path = wrk.ensure_wrk()
    load_before = [round(x, 2) for x in os.getloadavg()]
    http: dict[str, dict[str, Any]] = {}
    floor: dict[str, dict[str, Any]] = {}
    try:
        await asyncio.to_thread(wait_ready, base, process)
        for kind, products in (("hot", hot), ("spread", spread)):
            http[kind] = {}
            for level, (threads, connections) in (("low", LOW), ("saturation", SATURATION)):
                script = write_lua(products, f"{kind}{level}{ns}", workdir, f"{kind}-{level}")
                http[kind][level] = await wrk.run(
                    wrk_path, base, script, threads, connections, SECONDS
                )
        # The server first: requests in flight when wrk stopped still commit (wrk does not count
        # them), and the counts below must be read in one snapshot after the last commit.
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
        answered = sum(
            run["requests"] - run["errors"].get("status", 0)
            for by_level in http.values()
            for run in by_level.values()
        )
        row = await conn.fetchrow(
            f'SELECT (SELECT count(*) FROM "{ns}".orders) AS orders,'
            f' (SELECT coalesce(sum(quantity), 0) FROM "{ns}".order_items) AS sold,'
            f' (SELECT sum($1::bigint - stock) FROM "{ns}".products) AS deducted',
            STOCK,
        )
        assert row is not None
        consistency = {
            "orders_in_postgres": row["orders"],
            "answers_wrk_counted_as_2xx": answered,
            "units_ordered": row["sold"],
            "stock_deducted": int(row["deducted"]),
            "consistent": row["sold"] == row["deducted"] == row["orders"] >= answered,
        }
        for kind, products in (("hot", hot), ("spread", spread)):
            floor[kind] = {
                level: await raw_floor(pg, ns, products, connections)
                for level, (_threads, connections) in (("low", LOW), ("saturation", SATURATION))
            }
    finally:
        if process.poll() is None:
            process.terminate()
            await asyncio.to_thread(process.wait, 30)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{ns}" CASCADE')
        await conn.close()
        with MongoClient(f"mongodb://127.0.0.1:{stack['MONGO_PORT']}") as mongo:
            mongo.drop_database(ns)
    ratios = {
        f"{kind}.{level}": round(
            http[kind][level]["requests_per_s"] / floor[kind][level]["per_s"], 3
        )
        for kind in http
        for level in http[kind]
    }
    return {
        "orders_http": http,
        "raw_update_returning_floor": floor,
        "orders_per_s_vs_raw_update_per_s": ratios,
        "consistency_after_load": consistency,
        "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
        "notes": "orders/s over the raw UPDATE's statements/s at the same concurrency; an order"
        " is one transaction of ~7 statements (advisory lock, key lookup, SELECT FOR UPDATE,"
        " UPDATE, customer upsert, order, items, outbox) plus HTTP, JSON and two Redis DELs.",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(bench_shop(Path(tmp)))
    write_results("shop", {"shop_api_orders": figures})


if __name__ == "__main__":
    main()
