"""Serving a polystream API with uvicorn: :func:`api_app`, the command line of an API service
(``serve``, the default), and :func:`serve_in_thread` for tests and benchmarks that want the app
on real HTTP in-process.

Both run uvicorn the same way: ``log_config=None``, so uvicorn keeps the logging ``main()``
configured instead of installing its own, and no access log: a line per request costs more than
a cache hit, and the request metrics (:mod:`polystream_web.observability`) count every request.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
import uvicorn
from fastapi import FastAPI

from polystream_common.cli import service_app
from polystream_web.settings import ApiServiceSettings

S = TypeVar("S", bound=ApiServiceSettings)


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until SIGTERM (uvicorn exits the process if it cannot
    start)."""
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


def api_app(
    help: str, settings: Callable[[], S], create_app: Callable[[S], FastAPI]
) -> typer.Typer:
    """An API service's command line: ``serve``, also the default when no command is given,
    serves ``create_app(settings())`` on the settings' host and port (``settings`` builds them,
    configures logging and logs them). Add the service's other commands to it."""
    app = service_app(help)

    def serve_settings() -> None:
        config = settings()
        serve(create_app(config), config.host, config.port)

    @app.callback(invoke_without_command=True)
    def default(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            serve_settings()

    @app.command("serve", help="Serve the HTTP API (the default command).")
    def serve_command() -> None:
        serve_settings()

    return app


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


__all__ = ["api_app", "free_port", "serve", "serve_in_thread"]
