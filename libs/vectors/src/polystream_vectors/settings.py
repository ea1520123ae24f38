"""Settings of each vector store, to nest in a service's settings (``embedder.milvus`` and so
on), as :mod:`polystream_common.settings` does for PostgreSQL and MongoDB."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, SecretStr, model_validator


class QdrantSettings(BaseModel):
    """A Qdrant server (``url``) or qdrant-client's in-process local mode (``path``).

    Only one process may open a local-mode ``path``: it serves tests and single-process tools,
    never services that run side by side.
    """

    url: str | None = "http://127.0.0.1:6333"
    path: Path | None = None
    api_key: SecretStr | None = None
    timeout_s: float = 10.0

    @model_validator(mode="after")
    def _one_target(self) -> QdrantSettings:
        if self.path is not None:
            # A path chooses local mode; the default url must not make that ambiguous.
            self.url = None
        if self.url is None and self.path is None:
            raise ValueError("set qdrant url (a server) or path (local mode)")
        return self

    def uses_default_credentials(self) -> bool:
        # A server without an API key is open to whoever reaches it: acceptable locally only.
        return self.path is None and self.api_key is None


class MilvusSettings(BaseModel):
    """A Milvus server. ``token`` is ``user:password`` (or an API key on Zilliz Cloud)."""

    uri: str = "http://127.0.0.1:19530"
    token: SecretStr | None = None
    db_name: str = ""
    timeout_s: float = 10.0
    read_consistency_level: Literal["Strong", "Bounded", "Session", "Eventually"] | None = None
    """Consistency of searches and retrieves; None: the collection's own (Strong), which the
    embedder keeps (its profiles must see their own writes). At Strong every read waits for the
    server's next time tick, 200-400 ms on Milvus 2.3 (bench/results/embedder.json); a read path
    that tolerates seconds of staleness (recsys-api) reads at ``Bounded`` in milliseconds."""

    def uses_default_credentials(self) -> bool:
        # The local stack's server runs without authentication; so does a server given no token.
        # Milvus's built-in root password is the other default nobody should deploy.
        if self.token is None:
            return True
        return self.token.get_secret_value() in ("", "root:Milvus")
