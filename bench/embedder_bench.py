"""The embedder's benchmark: sentences/s end to end (chat messages from Kafka, encoded, upserted
into Milvus, profiles updated, checkpointed) against raw encoding of the same texts with the same
backend and the same encoder batch size, in the same run. Imported by bench/run.py
(``--only embedder``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pymilvus import MilvusClient

from polystream_common.topics import CHAT_MESSAGES
from polystream_embeddings.encoder import load_encoder
from polystream_embeddings.settings import EmbeddingSettings

MODEL_DIR = Path(__file__).resolve().parents[1] / ".cache" / "models" / "all-MiniLM-L6-v2"


def embedder_env(
    base: dict[str, str], milvus_uri: str, prefix: str, backend: str
) -> dict[str, str]:
    """The embedder's settings in a bench namespace: its own collections, the cached model."""
    return {
        **base,
        "EMBEDDER_MILVUS__URI": milvus_uri,
        "EMBEDDER_COLLECTION_PREFIX": prefix,
        "EMBEDDER_EMBEDDING__MODEL_DIR": str(MODEL_DIR),
        "EMBEDDER_EMBEDDING__BACKEND": backend,
    }


def raw_encode_rate(texts: list[str], settings: EmbeddingSettings) -> float:
    """Sentences/s of ``encoder.encode`` alone: the ceiling of the service's encoding."""
    encoder = load_encoder(settings)
    encoder.encode(texts[: settings.batch_size])  # warm-up: first-call allocations
    started = time.perf_counter()
    encoder.encode(texts)
    return len(texts) / (time.perf_counter() - started)


def drop_collections(milvus_uri: str, prefix: str) -> None:
    client = MilvusClient(uri=milvus_uri)
    try:
        for name in client.list_collections():
            if name.startswith(prefix):
                client.drop_collection(name)
    finally:
        client.close()


def figures(count: int, service_rate: float, raw_rate: float, backend: str) -> dict[str, Any]:
    return {
        "sentences": count,
        "backend": backend,
        "topic": CHAT_MESSAGES.topic,
        "service_sentences_per_s": round(service_rate, 1),
        "raw_encode_sentences_per_s": round(raw_rate, 1),
        "ratio": round(service_rate / raw_rate, 3),
        "target": 0.85,
    }
