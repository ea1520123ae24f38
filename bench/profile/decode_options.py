"""Strict decoding, measured several ways over the same records (CPU us per record).

The wire schemas (the pydantic models of ``polystream_common.schemas``) stay the one source of
truth in every option; what changes is how a batch of raw values reaches validated models.

- ``typeadapter``: today, ``Stream.decode`` = ``TypeAdapter.validate_json(raw, strict=True)``;
- ``validator``: the same pydantic-core ``SchemaValidator``, called directly (no Python wrapper);
- ``model_validate_json``: ``Model.model_validate_json(raw, strict=True)``;
- ``list``: one ``TypeAdapter(list[Model]).validate_json`` over the batch joined as a JSON array,
  falling back to one record at a time when it fails (see :func:`decode_batch`);
- ``cache_strings=False`` / ``'keys'``, ``frozen=False``: model config variants (subclasses);
- ``typeddict``: the same fields into a TypedDict (a dict, no model instance);
- ``msgspec+construct``: a msgspec Struct generated from the model (see ``msgspec_schemas.py``),
  then the pydantic model built without validation (:func:`msgspec_schemas.to_model`).

Run: ``PYTHONPATH=/tmp/pyextra .venv/bin/python bench/profile/decode_options.py`` (msgspec is not
a project dependency; the options that need it are skipped without it).
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ConfigDict, TypeAdapter, ValidationError

from polystream_common.schemas import (
    AnyUserEvent,
    Event,
    SensorReading,
    UserEvent,
    UserEventV1,
    UserEventV2,
)

sys.path.insert(0, str(Path(__file__).parent))
import loop_profile

E = TypeVar("E", bound=Event)


def decode_batch(
    single: TypeAdapter[E], many: TypeAdapter[list[E]], values: Sequence[bytes]
) -> list[E | ValidationError]:
    """Each value decoded strictly, in one call into pydantic-core for the whole batch.

    ``many`` is ``TypeAdapter(list[<single's type>])``. The values are joined as a JSON array; if
    that fails (one record is poison, or is not a single JSON value) every value is decoded on its
    own, so each gets its own result or its own error, exactly as ``single`` says. Joining can
    only merge records, never split one: a value that is valid JSON on its own is one array item.
    """
    if values:
        try:
            return list(many.validate_json(b"[" + b",".join(values) + b"]", strict=True))
        except ValidationError:
            pass
    out: list[E | ValidationError] = []
    for raw in values:
        try:
            out.append(single.validate_json(raw, strict=True))
        except ValidationError as exc:
            out.append(exc)
    return out


def variant(model: type[E], **config: Any) -> type[E]:
    """``model`` with its config changed (a subclass; same fields)."""
    return type(model.__name__, (model,), {"model_config": ConfigDict(**config)})  # type: ignore[return-value]


def timed(fn: Callable[[], Any], n: int, repeat: int = 7) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best / n * 1e6


def options(kind: str, values: list[bytes]) -> dict[str, Callable[[], Any]]:
    chunks = [values[i : i + loop_profile.BATCH] for i in range(0, len(values), loop_profile.BATCH)]
    if kind == "sensor":
        model: Any = SensorReading
        ta: TypeAdapter[Any] = TypeAdapter(SensorReading)
        many: TypeAdapter[Any] = TypeAdapter(list[SensorReading])
        variants = {
            "cache_strings=False": TypeAdapter(variant(SensorReading, cache_strings=False)),
            "cache_strings='keys'": TypeAdapter(variant(SensorReading, cache_strings="keys")),
            "frozen=False": TypeAdapter(variant(SensorReading, frozen=False)),
        }
    else:
        model = None
        ta = TypeAdapter[AnyUserEvent](UserEvent)
        many = TypeAdapter(list[UserEvent])  # type: ignore[arg-type]
        variants = {
            "cache_strings=False": TypeAdapter(
                variant(UserEventV1, cache_strings=False)
                | variant(UserEventV2, cache_strings=False)
            ),
        }
    validator = ta.validator
    opts: dict[str, Callable[[], Any]] = {
        "typeadapter": lambda: [ta.validate_json(v, strict=True) for v in values],
        "validator": lambda: [validator.validate_json(v, strict=True) for v in values],
    }
    if model is not None:
        opts["model_validate_json"] = lambda: [
            model.model_validate_json(v, strict=True) for v in values
        ]
    opts["list"] = lambda: [decode_batch(ta, many, c) for c in chunks]
    for name, adapter in variants.items():
        opts[name] = lambda adapter=adapter: [adapter.validate_json(v, strict=True) for v in values]
    try:
        import msgspec_schemas
    except ImportError:
        return opts
    if kind == "sensor":
        dec = msgspec_schemas.decoder(SensorReading)
        opts["msgspec only"] = lambda: [dec.decode(v) for v in values]
        opts["msgspec+construct"] = lambda: [
            msgspec_schemas.to_model(SensorReading, dec.decode(v)) for v in values
        ]
        batch_dec = msgspec_schemas.decoder(SensorReading, many=True)
        opts["msgspec list+construct"] = lambda: [
            [
                msgspec_schemas.to_model(SensorReading, s)
                for s in batch_dec.decode(b"[" + b",".join(c) + b"]")
            ]
            for c in chunks
        ]
    else:
        dec = msgspec_schemas.union_decoder((UserEventV1, UserEventV2))
        opts["msgspec only"] = lambda: [dec.decode(v) for v in values]
        opts["msgspec+construct"] = lambda: [
            msgspec_schemas.to_model_of(dec.decode(v)) for v in values
        ]
    return opts


def main() -> None:
    from polystream_common.runtime import GC_GEN0_THRESHOLD

    gc.set_threshold(GC_GEN0_THRESHOLD)
    n = 20_000
    for kind, gen in (
        ("sensor", loop_profile.sensor_values),
        ("events", loop_profile.event_values),
    ):
        values = [v for _, v in gen(n)]
        print(f"{kind}: CPU us/record, n={n}, best of 9 rounds (options interleaved)")
        opts = options(kind, values)
        best = dict.fromkeys(opts, float("inf"))
        for _ in range(9):  # round robin: a busy spell of the shared machine hits every option
            for name, fn in opts.items():
                best[name] = min(best[name], timed(fn, n, repeat=1))
        for name, us in best.items():
            print(f"  {name:26s} {us:6.2f}")


if __name__ == "__main__":
    main()
