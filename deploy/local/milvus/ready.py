"""Milvus readiness probe of the local stack: ``GET /healthz`` on its metrics port, stdlib only.

Milvus answers ``OK`` there once every component (root/data/query coordinators and nodes, proxy)
reports healthy: the check its own Python wrapper uses, and a real one (the port opens before the
components are up, and /healthz answers 500 until they are). Exits 0 when healthy, 1 otherwise.
Usage: python3 ready.py [host] metrics_port
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def ready(host: str, port: int, timeout: float = 2.0) -> bool:
    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=timeout) as resp:
        return bool(resp.status == 200 and resp.read().strip() == b"OK")


def main(argv: list[str]) -> int:
    host, port = ("127.0.0.1", argv[0]) if len(argv) == 1 else (argv[0], argv[1])
    try:
        healthy = ready(host, int(port))
    except (OSError, ValueError) as exc:  # URLError/HTTPError are OSErrors
        print(f"milvus {host}:{port} not ready: {exc}", file=sys.stderr)
        return 1
    print(f"milvus {host}:{port} {'ready' if healthy else 'not ready'}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
