"""Settings of the embedder (env prefix ``EMBEDDER_``, nested with ``__``).

Which vector store holds which collection is configuration: ``EMBEDDER_STORES__PRODUCTS='["qdrant",
"milvus"]'`` writes the catalog to both (the vectors are encoded once). The first store of a
collection is the one read back (a user's profile, a product's vector).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import SettingsConfigDict

from polystream_common.schemas import UserEventType
from polystream_common.settings import ConsumerServiceSettings, ConsumerSettings
from polystream_embeddings.settings import EmbeddingSettings
from polystream_vectors.settings import MilvusSettings, QdrantSettings

StoreName = Literal["milvus", "qdrant"]
StoreList = Annotated[list[StoreName], Field(min_length=1)]


class CollectionStores(BaseModel):
    """The stores each collection is written to; the first one is read back."""

    products: StoreList = ["milvus"]
    chat_messages: StoreList = ["milvus"]
    user_profiles: StoreList = ["milvus"]

    def used(self) -> set[StoreName]:
        return {*self.products, *self.chat_messages, *self.user_profiles}


class ProfileSettings(BaseModel):
    """How a user's profile vector weighs what the user did (see embedder.profiles)."""

    half_life_hours: float = Field(
        default=168.0,
        gt=0,
        description="an interaction counts half as much as one a half-life (7 days) younger",
    )
    chat_weight: float = Field(default=2.0, ge=0, description="a chat message the user wrote")
    event_weights: dict[UserEventType, float] = {
        "view": 1.0,
        "click": 2.0,
        "add_to_cart": 3.0,
        "purchase": 5.0,
        "campaign_view": 0.5,
        "campaign_click": 1.0,
    }
    """Weights of the user events that name a product; events without a product change nothing."""
    cache_size: int = Field(
        default=100_000,
        ge=0,
        description="profiles kept in memory (a cache of the stored ones), across partitions",
    )


class EmbedderLoopSettings(ConsumerSettings):
    """Batches sized for the model: a batch of 1,000 sentences is about 7 s of encoding on two
    CPU cores, long enough to amortise the checkpoint and short enough to stop promptly."""

    batch_size: int = Field(default=1_000, ge=1)


class EmbedderSettings(ConsumerServiceSettings):
    """products.catalog, chat.messages and user.events -> vector stores.

    E.g. ``EMBEDDER_MILVUS__URI=http://milvus:19530 EMBEDDER_EMBEDDING__BACKEND=onnx``.
    """

    model_config = SettingsConfigDict(
        env_prefix="EMBEDDER_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: str = "embedder"
    metrics_port: int = Field(default=9104, ge=0, le=65535)
    consumer: EmbedderLoopSettings = EmbedderLoopSettings(group_id="embedder")
    embedding: EmbeddingSettings = EmbeddingSettings()
    stores: CollectionStores = CollectionStores()
    # A store no collection uses may stay unset (None): its default credentials are then not
    # refused outside development, since nothing connects with them.
    milvus: MilvusSettings | None = MilvusSettings(uri="http://127.0.0.1:29530")
    qdrant: QdrantSettings | None = None
    collection_prefix: str = Field(
        default="",
        pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,63})?$",
        description="prepended to every collection name: a test's or benchmark's own collections",
    )
    profiles: ProfileSettings = ProfileSettings()

    @model_validator(mode="after")
    def _stores_configured(self) -> EmbedderSettings:
        missing = sorted(name for name in self.stores.used() if getattr(self, name) is None)
        if missing:
            raise ValueError(
                f"collections are routed to {', '.join(missing)}, which has no settings: set"
                f" EMBEDDER_{missing[0].upper()}__..."
            )
        return self
