"""SettledTopicAdmin returns from create_topics only once the metadata lists the new topics."""

from __future__ import annotations

from typing import Any

import pytest
from aggregator.topic_admin import SettledTopicAdmin
from quixstreams.models.topics import Topic, TopicAdmin
from quixstreams.models.topics.exceptions import TopicNotFoundError


class LaggingMetadata(SettledTopicAdmin):
    """The broker acknowledged the creation; its metadata lists the topic only after
    ``lag`` more metadata requests."""

    def __init__(self, lag: int) -> None:
        super().__init__(broker_address="127.0.0.1:1")
        self.lag = lag
        self.requests = 0

    def list_topics(self, timeout: float = -1) -> dict[str, Any]:
        self.requests += 1
        return {"t.new": object()} if self.requests > self.lag else {}


@pytest.fixture(autouse=True)
def acknowledged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TopicAdmin, "create_topics", lambda *_args, **_kwargs: None)


def test_waits_until_the_metadata_lists_the_topic() -> None:
    admin = LaggingMetadata(lag=3)
    admin.create_topics([Topic("t.new")], timeout=1, finalize_timeout=10)
    assert admin.requests == 4


def test_a_topic_that_never_shows_up_fails_the_start_by_name() -> None:
    admin = LaggingMetadata(lag=10**6)
    with pytest.raises(TopicNotFoundError, match=r"t\.new"):
        admin.create_topics([Topic("t.new")], timeout=1, finalize_timeout=0.5)
    assert admin.requests > 1
