"""The warehouse's build times on a lake of 1M events: a full rebuild (``dbt build
--full-refresh``) and a nightly incremental run after one more day lands (``dbt build``), each
beside DuckDB's raw scan of the same lake (``SELECT count(*), count(DISTINCT event_id) FROM
read_parquet(<every stream>, hive_partitioning=true, union_by_name=true)``) measured in the same
run: the least any build that reads the whole lake can take.

Figures: wall seconds of ``dbt build`` as a process (what the orchestrator pays: interpreter,
dbt's partial parse, every model and every data test), dbt's own elapsed time (run_results.json),
and ``ratio`` = raw scan seconds / dbt elapsed seconds (1.0 would be a build as fast as one bare
scan; the incremental run reads only the new day and the lookback day, so its ratio can pass 1).

The lake is written with pyarrow directly, not with polystream_lake's ``LakeWriter``: the rows
are generated in DuckDB (vectorised: about 5 s for 1.1M events, where building 1.1M pydantic
events for ``LakeWriter`` takes minutes), then cast to polystream_lake's Arrow schemas and
written under its file names (``BatchFile``) and layout (``partition_dir``), ``FILE_ROWS`` per
file as lake-writer's batches, v1 and v2 user events in separate files. Nine days: the first
eight (``--events``, 1M by default) for the full rebuild, the ninth added before the
incremental run.

``bench_warehouse(events, workdir)`` is importable (``bench/run.py`` may call it as
``--only warehouse``); ``python bench/warehouse_bench.py [--events N] [--repeat R]`` runs it and
writes ``bench/results/warehouse.json`` (the shape of ``bench/run.py``'s ``write_results``).
Nothing but files under a temporary directory and DuckDB; no server. Not a test: nothing here
asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from results_file import write_results

from polystream_lake import LAKE_STREAMS_BY_NAME, BatchFile, partition_dir

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "warehouse"
DBT = Path(sys.executable).with_name("dbt")
START = date(2026, 11, 2)
DAYS = 8  # the full rebuild's lake; a ninth day is added for the incremental run
FILE_ROWS = 5_000
# Share of each stream in the events (user events the most, as in the producer's default mix).
SHARES = {"user_events": 0.6, "sensor_readings": 0.3, "chat_messages": 0.08, "products": 0.02}
USERS, PRODUCTS, SENSORS = 20_000, 2_000, 500

# One SELECT per stream over range(n) as i; {n} rows over {days} days from {start}. Every
# column the lake's schema has, plus day (the row's date) for the file split.
ROWS_SQL = {
    "user_events": """
        with s as (
            select i, i // 5 as session, (hash(i // 5) % {users})::bigint as u, random() as r
            from range({n}) t(i)
        )
        select
            gen_random_uuid()::varchar as event_id,
            timestamptz '{start} 00:00:00+00' + to_microseconds((i * {step_us})::bigint)
                as event_time,
            case when u % 10 < 3 then 2 else 1 end as schema_version,
            'user-' || lpad(u::varchar, 5, '0') as user_id,
            'sess-' || session as session_id,
            case when r < 0.08 then 'campaign_view' when r < 0.10 then 'campaign_click'
                 when r < 0.60 then 'view' when r < 0.80 then 'click'
                 when r < 0.92 then 'add_to_cart' else 'purchase' end as event_type,
            case when r >= 0.10 then 'prod-' || lpad((hash(i) % {products})::varchar, 5, '0')
                 end as product_id,
            case when r < 0.10 then 'camp-' || lpad((u % 12)::varchar, 3, '0') end
                as campaign_id,
            case when r >= 0.92 then round(5 + (hash(i * 7) % 39500) / 100.0, 2) end as price,
            case when r >= 0.92 then 1 + hash(i * 3) % 3 end as quantity,
            case when u % 10 < 3 then ['web', 'ios', 'android'][u % 3 + 1] end as device,
            hash(u) % 6 as kafka_partition
        from s
    """,
    "sensor_readings": """
        select
            gen_random_uuid()::varchar as event_id,
            timestamptz '{start} 00:00:00+00' + to_microseconds((i * {step_us})::bigint)
                as event_time,
            1 as schema_version,
            'sensor-' || lpad((i % {sensors})::varchar, 4, '0') as sensor_id,
            ['temperature', 'humidity', 'pressure', 'co2', 'vibration'][i % {sensors} % 5 + 1]
                as sensor_type,
            'site-' || (i % {sensors} % 20) as location,
            ['C', '%', 'hPa', 'ppm', 'mm/s'][i % {sensors} % 5 + 1] as unit,
            round(random() * 100, 3) as value,
            hash(i % {sensors}) % 6 as kafka_partition
        from range({n}) t(i)
    """,
    "chat_messages": """
        select
            gen_random_uuid()::varchar as event_id,
            timestamptz '{start} 00:00:00+00' + to_microseconds((i * {step_us})::bigint)
                as event_time,
            1 as schema_version,
            'user-' || lpad((hash(i) % {users})::varchar, 5, '0') as user_id,
            'conv-' || (i // 3) as conversation_id,
            'Is prod-' || (hash(i) % {products}) || ' any good for hiking?' as text,
            'prod-' || lpad((hash(i) % {products})::varchar, 5, '0') as product_id,
            hash(hash(i) % {users}) % 6 as kafka_partition
        from range({n}) t(i)
    """,
    "products": """
        select
            gen_random_uuid()::varchar as event_id,
            timestamptz '{start} 00:00:00+00' + to_microseconds((i * {step_us})::bigint)
                as event_time,
            1 as schema_version,
            'prod-' || lpad((i % {products})::varchar, 5, '0') as product_id,
            'Product ' || (i % {products}) as name,
            'A product of the bench catalog.' as description,
            ['outdoor', 'kitchen', 'audio', 'books', 'toys', 'garden'][i % {products} % 6 + 1]
                as category,
            round(5 + (hash(i) % 39500) / 100.0, 2) as price,
            ['bench', 'tag-' || (i % 7)] as tags,
            hash(i % {products}) % 3 as kafka_partition
        from range({n}) t(i)
    """,
}


def write_lake(root: Path, held: Path, events: int) -> dict[str, int]:
    """``events`` events over ``DAYS`` days under ``root`` and one more day's under ``held``
    (moved in by :func:`add_held_day`); returns the events per stream in ``root``."""
    counts: dict[str, int] = {}
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    last = START + timedelta(days=DAYS)
    for name, share in SHARES.items():
        stream = LAKE_STREAMS_BY_NAME[name]
        n = round(events * share * (DAYS + 1) / DAYS)
        step_us = (DAYS + 1) * 86_400_000_000 // n
        select = ROWS_SQL[name].format(
            n=n, step_us=step_us, start=START.isoformat(),
            users=USERS, products=PRODUCTS, sensors=SENSORS,
        )  # fmt: skip
        con.execute(
            f"create or replace table rows as select *, cast(event_time as date) as day, "
            f"row_number() over (partition by kafka_partition order by event_time) - 1 "
            f"as kafka_offset, '{stream.topic}' as kafka_topic from ({select})"
        )
        groups = con.execute(
            "select day, kafka_partition, schema_version, count(*) from rows "
            "group by all order by all"
        ).fetchall()
        table = con.sql(
            "select * from rows order by day, kafka_partition, schema_version, kafka_offset"
        ).to_arrow_table()
        start = 0
        for day, partition, version, rows in groups:
            schema = stream.schema(version)
            group = table.slice(start, rows).select(schema.names).cast(schema)
            start += rows
            base = held if day == last else root
            directory = base / partition_dir(name, day)
            directory.mkdir(parents=True, exist_ok=True)
            for offset in range(0, rows, FILE_ROWS):
                chunk = group.slice(offset, FILE_ROWS)
                offsets = chunk["kafka_offset"]
                first, final = offsets[0].as_py(), offsets[len(offsets) - 1].as_py()
                file = BatchFile(stream.topic, partition, first, final, version)
                pq.write_table(chunk, directory / file.name, compression="zstd")
            if day != last:
                counts[name] = counts.get(name, 0) + rows
    con.close()
    return counts


def add_held_day(root: Path, held: Path) -> None:
    for directory in sorted(held.glob("stream=*/date=*")):
        target = root / directory.relative_to(held)
        shutil.copytree(directory, target)


def remove_held_day(root: Path, held: Path) -> None:
    for directory in sorted(held.glob("stream=*/date=*")):
        shutil.rmtree(root / directory.relative_to(held))


def raw_scan(root: Path) -> tuple[float, int, int]:
    """Seconds of DuckDB's own scan of every stream, with its count and distinct event_ids."""
    con = duckdb.connect()
    started = time.perf_counter()
    total, distinct = con.execute(
        f"select count(*), count(distinct event_id) from read_parquet("
        f"'{root}/stream=*/*/*.parquet', hive_partitioning = true, union_by_name = true)"
    ).fetchone() or (0, 0)
    seconds = time.perf_counter() - started
    con.close()
    return seconds, int(total), int(distinct)


def dbt(
    args: list[str], lake: Path, warehouse: Path, workdir: Path
) -> tuple[float, float, dict[str, float]]:
    """Wall seconds of ``dbt <args>`` as a process, dbt's own elapsed seconds, and the seconds
    its nodes ran, summed by kind: the models that read the lake (base_*), the other models,
    the data tests (two threads: the sums may pass the elapsed time)."""
    env = {
        **os.environ,
        "POLYSTREAM_LAKE_PATH": str(lake),
        "POLYSTREAM_WAREHOUSE_PATH": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    target = workdir / "target"
    command = [str(DBT), *args, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
               "--target-path", str(target), "--log-path", str(workdir / "logs")]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")
    results = target / "run_results.json"
    if args[0] == "parse" or not results.exists():
        return wall, wall, {}
    run = json.loads(results.read_text())
    kinds = {"lake_reading_models_s": 0.0, "other_models_s": 0.0, "data_tests_s": 0.0}
    for node in run["results"]:
        node_id = node["unique_id"]
        kind = (
            "data_tests_s"
            if node_id.startswith("test.")
            else "lake_reading_models_s"
            if node_id.startswith("model.polystream.base_")
            else "other_models_s"
        )
        kinds[kind] += float(node["execution_time"])
    return wall, float(run["elapsed_time"]), {k: round(v, 2) for k, v in kinds.items()}


def new_rows(warehouse: Path, column: str = "loaded_by") -> dict[str, int]:
    """Rows per base_* table that the latest run (re)loaded."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        counts = {}
        for name in SHARES:
            (n,) = con.execute(
                f"select count(*) from staging.base_{name} where {column} = "
                f"(select arg_max({column}, date_key) from staging.base_{name})"
            ).fetchone() or (0,)
            counts[name] = int(n)
    return counts


def bench_warehouse(events: int, workdir: Path, repeat: int = 3) -> dict[str, Any]:
    lake, held = workdir / "lake", workdir / "held"
    started = time.perf_counter()
    counts = write_lake(lake, held, events)
    lake_s = time.perf_counter() - started
    files = len(list(lake.glob("stream=*/*/*.parquet")))
    warehouse = workdir / "warehouse" / "polystream.duckdb"
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    dbt(["parse"], lake, warehouse, workdir)  # partial parsing from here on, as in production
    runs: list[dict[str, Any]] = []
    for _ in range(repeat):
        warehouse.unlink(missing_ok=True)
        scan_s, scanned, distinct = raw_scan(lake)
        full_wall, full_s, full_nodes = dbt(["build", "--full-refresh"], lake, warehouse, workdir)
        add_held_day(lake, held)
        scan_9_s, scanned_9, _ = raw_scan(lake)
        incremental_wall, incremental_s, incremental_nodes = dbt(
            ["build"], lake, warehouse, workdir
        )
        reloaded = new_rows(warehouse)
        remove_held_day(lake, held)
        runs.append(
            {
                "raw_scan_s": round(scan_s, 3),
                "full_rebuild": {
                    "events": scanned,
                    "distinct_event_ids": distinct,
                    "dbt_wall_s": round(full_wall, 2),
                    "dbt_elapsed_s": round(full_s, 2),
                    "node_seconds": full_nodes,
                    "ratio": round(scan_s / full_s, 4),
                },
                "incremental_one_more_day": {
                    "events": scanned_9,
                    "raw_scan_s": round(scan_9_s, 3),
                    "rows_reloaded_per_stream": reloaded,
                    "dbt_wall_s": round(incremental_wall, 2),
                    "dbt_elapsed_s": round(incremental_s, 2),
                    "node_seconds": incremental_nodes,
                    "ratio": round(scan_9_s / incremental_s, 4),
                },
            }
        )

    def median(phase: str) -> dict[str, Any]:
        """The phase's figures from the run with its median ratio (each phase on its own)."""
        ordered = sorted(runs, key=lambda run: float(run[phase]["ratio"]))
        chosen = ordered[len(ordered) // 2]
        return {
            **chosen[phase],
            "raw_scan_s": chosen[phase].get("raw_scan_s", chosen["raw_scan_s"]),
        }

    return {
        "lake": {
            "events": sum(counts.values()),
            "per_stream": counts,
            "days": DAYS,
            "files": files,
            "written_with": "pyarrow (rows generated in DuckDB; polystream_lake schemas, names "
            "and layout)",
            "write_s": round(lake_s, 2),
        },
        "full_rebuild": median("full_rebuild"),
        "incremental_one_more_day": median("incremental_one_more_day"),
        "ratio": median("full_rebuild")["ratio"],
        "ratios_of_runs": {
            "full_rebuild": [r["full_rebuild"]["ratio"] for r in runs],
            "incremental_one_more_day": [r["incremental_one_more_day"]["ratio"] for r in runs],
        },
        "note": "ratio = raw DuckDB scan seconds / dbt elapsed seconds (dbt build: every "
        "model and data test); the incremental run re-reads the new day and the two newest days "
        "loaded (lookback_days 1); node_seconds: time per kind of node, summed over dbt's threads",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the 8-day lake")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs; each phase's median ratio is kept"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = bench_warehouse(args.events, Path(tmp), args.repeat)
    write_results(
        "warehouse",
        {"warehouse_dbt_vs_raw_scan": figures},
        # A shared machine: what else ran shows here (the ratios absorb some of it).
        machine={"load_average_1m_at_end": round(os.getloadavg()[0], 1)},
    )


if __name__ == "__main__":
    main()
