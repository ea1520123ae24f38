"""Quix Streams' topic admin, made to wait for the broker's metadata after creating a topic.

Quix Streams creates each topic the application declares (outputs, DLQs, the repartition topic,
changelogs) and reads it back at once. The CreateTopics answer can come before the metadata the
read-back asks for lists the topic; Quix then fails the start with ``TopicNotFoundError``. We saw
it in CI with thirteen services starting at once on two cores."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from quixstreams.models.topics import Topic, TopicAdmin
from quixstreams.models.topics.exceptions import TopicNotFoundError

log = logging.getLogger(__name__)

POLL_S = 0.2


class SettledTopicAdmin(TopicAdmin):
    """A ``TopicAdmin`` whose ``create_topics`` returns once the broker's metadata lists every
    topic it was asked for (within its ``finalize_timeout``), else raises ``TopicNotFoundError``."""

    def create_topics(
        self, topics: Sequence[Topic], timeout: float = 30, finalize_timeout: float = 60
    ) -> None:
        super().create_topics(list(topics), timeout=timeout, finalize_timeout=finalize_timeout)
        wanted = {topic.name for topic in topics}
        deadline = time.monotonic() + finalize_timeout
        while missing := wanted - self.list_topics(timeout=timeout).keys():
            if time.monotonic() >= deadline:
                raise TopicNotFoundError(
                    f"created, but still not in the broker's metadata after "
                    f"{finalize_timeout}s: {sorted(missing)}"
                )
            log.info("waiting for new topics in the metadata", extra={"topics": sorted(missing)})
            time.sleep(POLL_S)
