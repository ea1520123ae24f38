"""Dead-letter publishing: the original bytes plus headers that say where they came from and why."""

from __future__ import annotations

import time
from dataclasses import dataclass

HEADER_TOPIC = "dlq.origin.topic"
HEADER_PARTITION = "dlq.origin.partition"
HEADER_OFFSET = "dlq.origin.offset"
HEADER_ERROR_CLASS = "dlq.error.class"
HEADER_ERROR_MESSAGE = "dlq.error.message"
HEADER_SERVICE = "dlq.service"
HEADER_SINK = "dlq.sink"
HEADER_FAILED_AT = "dlq.failed_at_ms"

MAX_MESSAGE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that cannot be written, as it was read (``value`` is the original bytes), with
    the reason."""

    dlq_topic: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error_class: str
    message: str
    sink: str | None = None
    """The sink that refused the record; None when it failed validation, before any sink."""

    def headers(self, service: str) -> list[tuple[str, str | bytes | None]]:
        sink = [(HEADER_SINK, self.sink.encode())] if self.sink else []
        return [
            *sink,
            (HEADER_TOPIC, self.topic.encode()),
            (HEADER_PARTITION, str(self.partition).encode()),
            (HEADER_OFFSET, str(self.offset).encode()),
            (HEADER_ERROR_CLASS, self.error_class.encode()),
            (HEADER_ERROR_MESSAGE, self.message.encode()[:MAX_MESSAGE_BYTES]),
            (HEADER_SERVICE, service.encode()),
            (HEADER_FAILED_AT, str(int(time.time() * 1000)).encode()),
        ]
