"""shop-api's settings: env prefix ``SHOP_API_``, nested stores with ``__``
(``SHOP_API_POSTGRES__HOST=db``). One class for the three commands (``serve``, ``relay``,
``catalog``); default credentials are refused outside development by the base class, and so is a
missing API key."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, PositiveFloat, model_validator
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import MongoSettings, PostgresSettings, ProducerSettings
from polystream_web.cache import CacheSettings
from polystream_web.settings import ApiServiceSettings

STOCK: Literal["stock"] = "stock"
TOP_SELLERS: Literal["top_sellers"] = "top_sellers"


class ShopCacheSettings(CacheSettings):
    """The cached reads: a product's stock and the best sellers. The order flow deletes both on
    commit; the TTL bounds what a lost invalidation (Redis down at that moment) leaves stale."""

    key_prefix: str = Field(default="shop", pattern=r"^[A-Za-z0-9._-]+$")
    ttl_s: dict[str, PositiveFloat] = Field(
        default_factory=lambda: {STOCK: 5.0, TOP_SELLERS: 30.0},
        description="TTL of each kind of value, in seconds",
    )


class RelaySettings(BaseModel):
    """The outbox relay (``python -m shop_api relay``)."""

    batch_size: int = Field(default=500, ge=1, description="outbox rows published per round")
    idle_poll_s: float = Field(
        default=0.2, gt=0, description="wait before looking again when the outbox is empty"
    )
    flush_timeout_s: float = Field(default=30.0, gt=0)
    retention_s: float = Field(
        default=7 * 24 * 3600,
        ge=0,
        description="published outbox rows older than this are deleted (0: kept forever);"
        " unpublished rows are never deleted",
    )
    purge_every_s: float = Field(default=60.0, gt=0, description="how often the purge runs")
    purge_batch_size: int = Field(default=5000, ge=1, description="rows deleted per statement")
    metrics_port: int = Field(default=9109, ge=0, le=65535)  # stack.env SHOP_RELAY_METRICS_PORT
    producer: ProducerSettings = ProducerSettings(linger_ms=5)
    fault: Literal["none", "kill_before_produce", "kill_after_produce"] = Field(
        default="none",
        description="tests only: SIGKILL the relay itself once a batch is claimed"
        " (kill_before_produce) or once it is in Kafka but not yet marked (kill_after_produce)",
    )


class ShopApiSettings(ApiServiceSettings):
    """What shop-api serves on, reads and writes. The ``catalog`` command is a consumer service
    (core loop over ``products.catalog``, group ``shop-api-catalog``, metrics on
    ``metrics_port``); ``relay`` publishes the outbox; ``serve`` is the HTTP API."""

    model_config = SettingsConfigDict(env_prefix="SHOP_API_")

    service_name: str = "shop-api"
    port: int = Field(default=8001, ge=0, le=65535)  # deploy/local/stack.env SHOP_API_PORT
    metrics_port: int = Field(default=9110, ge=0, le=65535)  # SHOP_CATALOG_METRICS_PORT
    postgres: PostgresSettings = PostgresSettings(pool_max_size=10)
    postgres_schema: str = Field(
        default="shop",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="schema of the catalog, orders and outbox tables",
    )
    mongo: MongoSettings = MongoSettings()
    mongo_timeout_ms: int = Field(default=2000, ge=1)
    carts_collection: str = Field(default="carts", pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")
    cart_ttl_s: int = Field(
        default=7 * 24 * 3600, ge=1, description="a cart untouched this long is gone"
    )
    cache: ShopCacheSettings = ShopCacheSettings()
    initial_stock: int = Field(
        default=100,
        ge=0,
        description="stock of a product the first time the catalog stream brings it; later"
        " catalog updates never change stock (orders own it)",
    )
    relay: RelaySettings = RelaySettings()

    @model_validator(mode="after")
    def _catalog_group(self) -> ShopApiSettings:
        if self.consumer.group_id == self.service_name:  # the base class's default
            self.consumer = self.consumer.model_copy(update={"group_id": "shop-api-catalog"})
        return self
