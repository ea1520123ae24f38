"""Poison records for tests and load runs: each kind must end in the DLQ, never in a store.

Poison is made from a valid record's JSON bytes, so it works on the load test's fast path too.
"""

from __future__ import annotations

import json
import random
from typing import Any

POISON_KINDS = ("malformed-json", "invalid-value", "wrong-type")
"""malformed-json: cut-off JSON (the consumer says InvalidJSON); invalid-value: a field with a
value its schema refuses (SchemaViolation); wrong-type: ``event_id`` as an integer
(SchemaViolation)."""

# Per topic, values the schema refuses: (field, bad value). Topics not listed get a bad time.
INVALID_VALUES: dict[str, tuple[tuple[str, Any], ...]] = {
    "sensor.readings": (("value", "hot"), ("sensor_type", "weather-balloon"), ("value", None)),
    "user.events": (("event_type", "teleport"), ("quantity", 0), ("price", -5.0)),
    "chat.messages": (("text", ""), ("conversation_id", 17)),
    "products.catalog": (("price", -1.0), ("name", ""), ("tags", "sale")),
}
DEFAULT_INVALID: tuple[tuple[str, Any], ...] = (("event_time", "sometime yesterday"),)


def poison(topic: str, raw: bytes, kind: str, rng: random.Random) -> bytes:
    """The valid record ``raw`` of ``topic``, broken in the way ``kind`` names."""
    if kind == "malformed-json":
        return raw[: max(1, len(raw) // 2)]
    record = json.loads(raw)
    if kind == "invalid-value":
        name, value = rng.choice(INVALID_VALUES.get(topic, DEFAULT_INVALID))
        record[name] = value
    elif kind == "wrong-type":
        record["event_id"] = rng.getrandbits(31)
    else:
        raise ValueError(f"unknown poison kind {kind!r}; known: {', '.join(POISON_KINDS)}")
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
