"""Entry point of ``python -m recsys_api``: serve the API with uvicorn (the default command)."""

from __future__ import annotations

from polystream_common.logs import configure_logging
from polystream_web.server import api_app
from recsys_api.app import create_app
from recsys_api.settings import RecsysApiSettings


def _settings() -> RecsysApiSettings:
    settings = RecsysApiSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    settings.log_effective()
    return settings


app = api_app("recsys-api: recommendations and semantic search over HTTP.", _settings, create_app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m recsys_api``: serve the API (``serve``, the default)."""
    app(args=argv, prog_name="python -m recsys_api")
