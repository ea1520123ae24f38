"""Entry point of ``python -m recsys_api``: serve the API with uvicorn (the default command)."""

from __future__ import annotations

import typer

from polystream_common.cli import service_app
from polystream_common.logs import configure_logging
from polystream_web.server import serve as serve_api
from recsys_api.app import create_app
from recsys_api.settings import RecsysApiSettings

app = service_app("recsys-api: recommendations and semantic search over HTTP.")


def serve() -> None:
    """Build the settings, configure logging once, and serve on the settings' host and port."""
    settings = RecsysApiSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    settings.log_effective()
    serve_api(create_app(settings), settings.host, settings.port)


@app.callback(invoke_without_command=True)
def default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        serve()


@app.command("serve", help="Serve the API (the default command).")
def serve_command() -> None:
    serve()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m recsys_api``: serve the API (``serve``, the default)."""
    app(args=argv, prog_name="python -m recsys_api")
