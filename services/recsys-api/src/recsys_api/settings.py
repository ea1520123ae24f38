"""recsys-api's settings: env prefix ``RECSYS_API_``, nested stores with ``__``
(``RECSYS_API_MILVUS__URI=http://milvus:19530``). Default credentials are refused outside
development by the base class, and so is a missing API key."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import MongoSettings, Neo4jSettings, PostgresSettings
from polystream_embeddings.settings import EmbeddingSettings
from polystream_readmodels.graph import LABEL_PREFIX_PATTERN
from polystream_vectors.settings import MilvusSettings
from polystream_web import security as web_security
from polystream_web.settings import ApiServiceSettings
from recsys_api.cache import CacheSettings
from recsys_api.recommend import RecommendParameters


class RateLimitSettings(web_security.RateLimitSettings):
    """Per-client limits (slowapi), in the ``limits`` notation: ``"100/second"``."""

    analytics: str = Field(default="20/second", description="analytics routes, per client")


class RecsysApiSettings(ApiServiceSettings):
    """What recsys-api serves on and reads from. A consumer service too: it runs the core loop
    over ``cache.invalidations`` (``RECSYS_API_CONSUMER__*``, group ``recsys-api``)."""

    model_config = SettingsConfigDict(env_prefix="RECSYS_API_")

    service_name: str = "recsys-api"
    port: int = Field(default=8000, ge=0, le=65535)  # deploy/local/stack.env RECSYS_API_PORT
    embedding: EmbeddingSettings = EmbeddingSettings()
    # Bounded: at Strong every read waits for Milvus's next time tick (~200-400 ms); a read
    # path may be seconds stale.
    milvus: MilvusSettings = MilvusSettings(
        uri="http://127.0.0.1:29530", read_consistency_level="Bounded"
    )
    collection_prefix: str = Field(
        default="",
        pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,63})?$",
        description="prepended to every collection name, as the embedder's: a test's own",
    )
    neo4j: Neo4jSettings = Neo4jSettings()
    label_prefix: str = Field(
        default="", pattern=LABEL_PREFIX_PATTERN, description="graph labels, as graph-writer's"
    )
    postgres: PostgresSettings = PostgresSettings()
    postgres_schema: str = Field(
        default="public",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="schema of the engagement and sensor read models",
    )
    mongo: MongoSettings = MongoSettings()
    mongo_timeout_ms: int = Field(default=2000, ge=1)
    cache: CacheSettings = CacheSettings()
    recommend: RecommendParameters = RecommendParameters()
    rate_limit: RateLimitSettings = RateLimitSettings()
    invalidations: bool = Field(
        default=True,
        description="consume graph-writer's cache.invalidations topic and drop the cached"
        " recommendations of the users it names",
    )
