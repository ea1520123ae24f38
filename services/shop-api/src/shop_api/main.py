"""shop-api: carts, orders and the outbox.

\b
python -m shop_api [serve]    the HTTP API (OpenAPI at /docs, /metrics) on SHOP_API_PORT
python -m shop_api relay      publish the outbox to Kafka (metrics on SHOP_API_RELAY__METRICS_PORT)
python -m shop_api catalog    products.catalog -> the PostgreSQL catalog (core consumer loop)
python -m shop_api migrate    apply the schema migrations and exit

Settings come from SHOP_API_* variables (nested with __).
"""

from __future__ import annotations

import asyncio

import asyncpg
import typer

from polystream_common.logs import configure_logging
from polystream_common.metrics import serve_metrics
from polystream_common.runtime import consumer_main
from polystream_web.server import api_app
from shop_api.app import create_app
from shop_api.bootstrap import bootstrap
from shop_api.relay import run_relay
from shop_api.settings import ShopApiSettings
from shop_api.store import SHOP_MIGRATIONS


def _settings() -> ShopApiSettings:
    settings = ShopApiSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    settings.log_effective()
    return settings


app = api_app(__doc__ or "", _settings, create_app)


@app.command("relay", help="Publish committed outbox rows to Kafka until SIGTERM.")
def relay_command() -> None:
    settings = _settings()
    serve_metrics(settings.metrics_host, settings.relay.metrics_port)
    asyncio.run(run_relay(settings))


@app.command("catalog", help="Consume products.catalog into the PostgreSQL catalog.")
def catalog_command() -> None:
    consumer_main(ShopApiSettings, bootstrap)


@app.command("migrate", help="Apply the schema migrations and exit.")
def migrate_command() -> None:
    settings = _settings()

    async def migrate() -> list[str]:
        conn = await asyncpg.connect(**settings.postgres.connect_kwargs())
        try:
            return await SHOP_MIGRATIONS.apply(conn, settings.postgres_schema)
        finally:
            await conn.close()

    applied = asyncio.run(migrate())
    typer.echo(f"applied: {', '.join(applied) or 'nothing (up to date)'}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m shop_api``."""
    app(args=argv, prog_name="python -m shop_api")
