"""Serving a polystream API with uvicorn: :func:`serve` in a service's ``main()``, and
:func:`serve_in_thread` for tests and benchmarks that want the app on real HTTP in-process.

Both run uvicorn the same way: ``log_config=None``, so uvicorn keeps the logging ``main()``
configured instead of installing its own, and no access log: a line per request costs more than
a cache hit, and the request metrics (:mod:`polystream_web.observability`) count every request.
The services that call these declare uvicorn themselves.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until SIGTERM (uvicorn exits the process if it cannot
    start)."""
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_in_thread(app: FastAPI, port: int = 0, *, name: str = "api") -> Iterator[str]:
    """Serve ``app`` on ``127.0.0.1:port`` (0: a free one) in a daemon thread, started (lifespan
    run) before this yields the base URL; stopped, and its lifespan closed, on the way out.
    Raises :class:`RuntimeError` when the server stops or is not up within 60 s."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


__all__ = ["free_port", "serve", "serve_in_thread"]
