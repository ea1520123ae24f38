"""bench/results/<name>.json, the one shape every benchmark writes: the command that made the
figures, when, on what machine, then the figures. Its own module, since bench/run.py imports the
benchmark modules that use it."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def write_results(
    name: str,
    figures: Mapping[str, Any],
    *,
    machine: Mapping[str, Any] | None = None,
    echo: bool = True,
) -> Path:
    """Write bench/results/``name``.json; ``machine``: more about the machine (a load average);
    ``echo``: print the results and the file's path. The command is the script that runs
    (``python bench/<script> <its arguments>``), whichever benchmark's figures it wrote."""
    results = {
        "command": shlex.join(["python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), **(machine or {})},
        **figures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if echo:
        print(json.dumps(results, indent=2, default=str))
        print(f"written to {out.relative_to(ROOT)}")
    return out


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median ratio, with every run's ratio beside it: on a shared 2-core machine
    one noisy run must not make the figure."""
    ordered = sorted(runs, key=lambda run: float(run["ratio"]))
    return {**ordered[len(ordered) // 2], "ratios_of_runs": [run["ratio"] for run in runs]}
