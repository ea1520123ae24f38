"""recsys-api's settings: env prefix ``RECSYS_API_``, nested stores with ``__``
(``RECSYS_API_MILVUS__URI=http://milvus:19530``). Default credentials are refused outside
development by the base class."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import Neo4jSettings, RedisSettings, ServiceSettings
from polystream_embeddings.settings import EmbeddingSettings
from polystream_vectors.settings import MilvusSettings


class RecsysApiSettings(ServiceSettings):
    """What recsys-api serves on and reads from."""

    model_config = SettingsConfigDict(env_prefix="RECSYS_API_")

    service_name: str = "recsys-api"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)  # deploy/local/stack.env RECSYS_API_PORT
    embedding: EmbeddingSettings = EmbeddingSettings()
    # Bounded: at Strong every search waits for Milvus's next time tick (~200-400 ms); a read
    # path may be seconds stale.
    milvus: MilvusSettings = MilvusSettings(
        uri="http://127.0.0.1:29530", search_consistency_level="Bounded"
    )
    collection_prefix: str = Field(
        default="",
        pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,63})?$",
        description="prepended to every collection name, as the embedder's: a test's own",
    )
    readiness_timeout_s: float = Field(
        default=2.0, gt=0, description="how long /readyz waits for each dependency"
    )
    neo4j: Neo4jSettings = Neo4jSettings()
    redis: RedisSettings = RedisSettings()
