"""The prototypes give what they replace: ``observe_many`` the histogram of per-record
``observe``; ``fast_paths.event_document`` the same documents; the msgspec Structs accept and
refuse what the pydantic models do (a differential test over valid, poison and edge records).

Run: ``PYTHONPATH=/tmp/pyextra .venv/bin/python -m pytest bench/profile -q -p no:cacheprovider``
(the msgspec tests are skipped without msgspec).
"""

from __future__ import annotations

import json
import math
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Histogram
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).parent))

import fast_paths
import loop_profile
from batch_histogram import observe_many

from polystream_common.metrics import LATENCY_BUCKETS
from polystream_common.sink import SinkRecord
from polystream_common.topics import SENSOR_READINGS, USER_EVENTS, Stream


def histogram() -> Any:
    h = Histogram("h", "h", ["a"], buckets=LATENCY_BUCKETS, registry=CollectorRegistry())
    return h.labels("x")


def samples(child: Any) -> dict[str, float]:
    return {
        s.name + s.labels.get("le", ""): s.value
        for s in child._child_samples()
        if "created" not in s.name
    }


@pytest.mark.parametrize("seed", range(5))
def test_observe_many_counts_every_record_as_observe_does(seed: int) -> None:
    rng = random.Random(seed)
    one, many = histogram(), histogram()
    for size in (0, 1, 7, 5000, 20000):
        amounts = [max(0.0, rng.lognormvariate(-3, 2.5)) for _ in range(size)]
        amounts += [*LATENCY_BUCKETS, 0.0, 1e9]  # exactly on a bound: that bucket
        for a in amounts:
            one.observe(a)
        observe_many(many, amounts)
    a, b = samples(one), samples(many)
    assert a.keys() == b.keys()
    for name in a:
        if name.endswith("_sum"):
            assert math.isclose(a[name], b[name], rel_tol=1e-12)
        else:
            assert a[name] == b[name], name


def test_event_document_is_the_same_document() -> None:
    from event_consumer.documents import event_document
    from producer.generators import World

    world = World.build(3)
    now = datetime.now(UTC)
    for kind in ("user-events", "chat", "products"):
        events = world.stream(kind)
        for i in range(2000 if kind == "user-events" else 300):
            record = SinkRecord(next(events), "t", i % 3, i, b"k")
            expected = event_document(record, now)
            got = fast_paths.event_document(record, now)
            assert got == expected
            assert list(got) == list(expected)  # same field order in BSON


# -- msgspec, differential -------------------------------------------------------------------


def mutations(raw: bytes) -> list[bytes]:
    """Edge records made from a valid one: formats and values where decoders tend to differ."""
    base = json.loads(raw)
    out: list[bytes] = []

    def put(**changes: Any) -> None:
        record = {**base, **changes}
        out.append(json.dumps(record).encode())

    t = base["event_time"].rstrip("Z")
    for when in (
        t + "Z",
        t + "+00:00",
        t + "+02:00",
        t,
        t.replace("T", " ") + "Z",
        t[:16] + "Z",
        t[:19] + ".1234567Z",
        t[:10],
        "1700000000",
        1700000000,
        1.7e9,
        t.lower() + "z",
        t + "+0000",
        t[:19] + "Z",
        "2024-02-30T00:00:00Z",
        "2024-01-01T24:00:00Z",
    ):
        put(event_time=when)
    eid = base["event_id"]
    for ident in (
        eid.upper(),
        eid.replace("-", ""),
        "{" + eid + "}",
        "urn:uuid:" + eid,
        eid[:-1],
        5,
    ):
        put(event_id=ident)
    for version in (1, 1.0, True, 2, "1", None):
        put(schema_version=version)
    out.append(json.dumps({k: v for k, v in base.items() if k != "schema_version"}).encode())
    out.append(json.dumps({**base, "extra": 1}).encode())
    out.append(raw[:-1] + b',"event_id":"' + eid.encode() + b'"}')  # duplicate key
    out.append(b" " + raw + b"\n")
    out.append(raw + b" x")
    out.append(b"[" + raw + b"]")
    out.append(b"null")
    return out


def sensor_edges(raw: bytes) -> list[bytes]:
    base = json.loads(raw)
    out = []
    for value in (1, 1.5, -0.0, True, "1", None, 10**30, 1e308, "NaN"):
        out.append(json.dumps({**base, "value": value}).encode())
    out.append(raw.replace(b'"value":', b'"value":1e400,"x":'))
    out.append(json.dumps({**base}).encode().replace(b'"value": ', b'"value": NaN, "v0": '))
    for sid in ("", "x" * 256, "x" * 257, "é" * 256, "é" * 257, "\u0000", "😀" * 256, "😀" * 257):
        out.append(json.dumps({**base, "sensor_id": sid}).encode())
    for st in ("co2", "CO2", "", 1):
        out.append(json.dumps({**base, "sensor_type": st}).encode())
    return out


def event_edges(raw: bytes) -> list[bytes]:
    base = json.loads(raw)
    out = []
    for field, values in {
        "price": (0, -0.0, 1, -1, 1e400, None, True),
        "quantity": (1, 0, 1.0, 2.5, True, None, 10**30),
        "device": ("web", "tv", None, 1),
        "product_id": ("", "p", None, 3),
    }.items():
        for v in values:
            out.append(json.dumps({**base, field: v}).encode())
    return out


def corpus(stream: Stream[Any], edges: Any, values: list[bytes]) -> list[bytes]:
    from producer.poison import POISON_KINDS, poison

    rng = random.Random(7)
    out = list(values)
    for raw in values[:200]:
        for kind in POISON_KINDS:
            out.append(poison(stream.topic, raw, kind, rng))
    for raw in values[:5]:
        out += mutations(raw) + edges(raw)
    return out


def outcome_pydantic(stream: Stream[Any], raw: bytes) -> str:
    try:
        return stream.decode(raw).model_dump_json()
    except ValidationError:
        return "refused"


def outcome_msgspec(decode: Any, raw: bytes) -> str:
    import msgspec
    import msgspec_schemas

    try:
        return msgspec_schemas.to_model_of(decode(raw)).model_dump_json()
    except (msgspec.ValidationError, msgspec.DecodeError, msgspec_schemas.NotFinite):
        return "refused"


@pytest.mark.xfail(
    strict=True,
    reason="msgspec is not pydantic: it refuses what strict pydantic accepts (event_time "
    "'1700000000' and '...T10:54Z', event_id '{uuid}' and 'urn:uuid:...', schema_version 1.0 "
    "and true) and rounds 7-digit fractions differently; see the report",
)
@pytest.mark.parametrize("which", ["sensor", "events"])
def test_msgspec_decodes_as_pydantic(which: str) -> None:
    pytest.importorskip("msgspec")
    import msgspec_schemas

    from polystream_common.schemas import SensorReading, UserEventV1, UserEventV2

    if which == "sensor":
        stream: Stream[Any] = SENSOR_READINGS
        dec = msgspec_schemas.decoder(SensorReading)
        values = [v for _, v in loop_profile.sensor_values(2000)]
        edges: Any = sensor_edges
    else:
        stream = USER_EVENTS
        dec = msgspec_schemas.union_decoder((UserEventV1, UserEventV2))
        values = [v for _, v in loop_profile.event_values(2000)]
        edges = event_edges
    differ = []
    for raw in corpus(stream, edges, values):
        a, b = outcome_pydantic(stream, raw), outcome_msgspec(dec.decode, raw)
        if a != b:
            differ.append((raw.decode(errors="replace")[:160], a[:80], b[:80]))
    assert not differ, "\n".join(map(str, differ))
