"""Event-driven invalidation: graph-writer publishes a :class:`CacheInvalidation` to
``cache.invalidations`` after each committed batch, for every user whose interactions changed;
this sink, run by the core consumer loop inside the API process, drops that user's cached
recommendations.

**The stale-read window.** A new interaction is visible in recommendations once (1) graph-writer
has committed its batch and flushed the invalidation (its batch wait, ~0.1-1 s), (2) this
consumer has polled it (its batch wait, 0.1 s by default) and (3) Redis has deleted the key: about
a second or two in steady state. It is bounded in every case by the recommendations TTL
(``RECSYS_API_CACHE__TTL_S``, 60 s ± 10 % by default): if Redis or Kafka is down, the cached value
still expires. An invalidation that fails because Redis is down is retried by the loop with
backoff (:class:`~recsys_api.cache.CacheUnavailableError` is transient), never dropped; the
replicas share one consumer group, since they share Redis.
"""

from __future__ import annotations

from collections.abc import Sequence

from polystream_common.schemas import CacheInvalidation
from polystream_common.sink import Rejection, Sink, SinkRecord
from recsys_api.cache import CacheUnavailableError, LookAsideCache


class InvalidationSink(Sink[CacheInvalidation]):
    name = "redis-invalidations"
    transient_errors = (*Sink.transient_errors, CacheUnavailableError)

    def __init__(self, cache: LookAsideCache) -> None:
        self._cache = cache

    async def write(
        self, batch: Sequence[SinkRecord[CacheInvalidation]]
    ) -> Sequence[Rejection[CacheInvalidation]]:
        await self._cache.invalidate_user(*sorted({record.value.user_id for record in batch}))
        return []
