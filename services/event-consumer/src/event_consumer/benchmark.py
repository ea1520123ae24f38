"""Write-rate measurement of event-consumer's MongoDB path, for ``make bench``.

:func:`raw_insert_many_ceiling` is the ceiling the service is measured against: plain pymongo
``insert_many`` of the same documents into the same (emptied, same indexes) collection, with no
Kafka, no decoding and no sorting of write errors.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from polystream_readmodels.collections import CollectionSpec


async def raw_insert_many_ceiling(
    db: AsyncDatabase[dict[str, Any]],
    collection: CollectionSpec,
    documents: Sequence[dict[str, Any]],
    batch: int = 5000,
) -> float:
    """documents/s of unordered ``insert_many`` of ``documents`` (see
    ``documents.event_document``), ``batch`` per call, into ``collection`` dropped and re-indexed
    first, as the sink's ``setup()`` leaves it."""
    await db.drop_collection(collection.name)
    target = db[collection.name]
    if collection.indexes:
        await target.create_indexes(list(collection.indexes))
    started = time.perf_counter()
    for i in range(0, len(documents), batch):
        await target.insert_many(documents[i : i + batch], ordered=False)
    return len(documents) / (time.perf_counter() - started)
