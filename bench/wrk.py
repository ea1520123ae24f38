"""wrk, the HTTP load generator of the API benchmarks (bench/recsys_http.py, bench/shop_bench.py):
its path (installed from apt when missing), a Lua script of the benchmark's requests that prints
wrk's own figures, and one run's figures."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Appended to every script: prints wrk's figures as one JSON line, percentiles straight from its
# histogram (µs).
FIGURES_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,'
    .. '"read":%d,"write":%d,"status":%d,"timeout":%d},"latency_us":{"mean":%.1f,'
    .. '"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
"""


def ensure_wrk() -> str:
    """wrk's path; installed from apt when missing (as deploy/local/install.sh does)."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not on PATH after apt-get install wrk")
    return found


def lua_strings(values: Iterable[str]) -> str:
    """``values`` as the items of a Lua table (JSON strings are valid Lua strings here)."""
    return ", ".join(json.dumps(value) for value in values)


def write_script(workdir: Path, name: str, requests_lua: str) -> Path:
    """``workdir``/``name``.lua: the benchmark's request functions, then :data:`FIGURES_LUA`."""
    script = workdir / f"{name}.lua"
    script.write_text(requests_lua + FIGURES_LUA)
    return script


async def run(
    wrk_path: str, url: str, script: Path, threads: int, connections: int, seconds: int
) -> dict[str, Any]:
    """One wrk run; its figures in ms and requests/s, and the command line."""
    command = [
        wrk_path,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    stdout, _ = await proc.communicate()
    text = stdout.decode()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {text}")
    line = next((ln for ln in text.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures: {text}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    latency = raw["latency_us"]
    return {
        "threads": threads,
        "connections": connections,
        "seconds": seconds,
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "latency_ms": {key: round(value / 1000, 2) for key, value in latency.items()},
        "errors": {key: n for key, n in raw["errors"].items() if n},
        "wrk": shlex.join(["wrk", *command[1:-2], script.name, url]),
    }
