"""Poison records for tests and load runs: each kind must end in the DLQ, never in a store."""

from __future__ import annotations

import json
import random

from polystream_common.schemas import Event
from polystream_common.topics import Stream

POISON_KINDS = ("malformed-json", "invalid-value", "wrong-type")


def poison(stream: Stream[Event], event: Event, kind: str) -> bytes:
    """``event`` encoded, then broken in the way ``kind`` names."""
    raw = stream.encode(event)
    if kind == "malformed-json":
        return raw[: len(raw) // 2]
    record = json.loads(raw)
    if kind == "invalid-value":
        record["event_time"] = "sometime yesterday"
    elif kind == "wrong-type":
        record["event_id"] = int(event.event_id) % 1_000_000
    else:
        raise ValueError(f"unknown poison kind {kind!r}")
    return json.dumps(record).encode()


def pick_kind(rng: random.Random) -> str:
    return rng.choice(POISON_KINDS)
