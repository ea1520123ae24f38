"""Where the lake lives and how its files are named.

Layout, hive-style: ``<root>/stream=<stream>/date=<YYYY-MM-DD>/<file>.parquet``, the date being
the event's ``event_time`` in UTC. A file's name says what it holds:

- a batch file: ``<topic>+<partition>+<first offset>+<last offset>+v<schema_version>.parquet``,
  offsets zero-padded to 20 digits, so a redelivered batch lands on its own name again;
- a compacted file: ``compacted+<topic>+v<schema_version>+<digest>.parquet``, the digest that of
  the names of the files it replaced (which its Parquet metadata lists: see compaction.py).

Files being written carry a ``.tmp`` suffix (``*.parquet`` never matches them): on a local
filesystem a file appears under its final name by an atomic rename. On an object store (S3) a
PUT of a whole object is atomic, so files are written under their final name directly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow.fs as pafs
from pydantic import BaseModel, Field, SecretStr

OFFSET_DIGITS = 20
COMPACTED_PREFIX = "compacted+"
TEMP_SUFFIX = ".tmp"
_BATCH_NAME = re.compile(
    r"^(?P<topic>[^+/]+)\+(?P<partition>\d+)\+(?P<first>\d+)\+(?P<last>\d+)\+v(?P<version>\d+)\.parquet$"
)
_COMPACTED_NAME = re.compile(
    r"^compacted\+(?P<topic>[^+/]+)\+v(?P<version>\d+)\+(?P<digest>[0-9a-f]+)\.parquet$"
)


@dataclass(frozen=True, order=True)
class BatchFile:
    """The name of a file one batch wrote: a topic partition's offsets of one schema version."""

    topic: str
    partition: int
    first: int
    last: int
    version: int

    @property
    def name(self) -> str:
        return (
            f"{self.topic}+{self.partition}+{self.first:0{OFFSET_DIGITS}d}"
            f"+{self.last:0{OFFSET_DIGITS}d}+v{self.version}.parquet"
        )

    def overlaps(self, other: BatchFile) -> bool:
        """Same topic partition and version, and offset ranges that share an offset."""
        return (
            (self.topic, self.partition, self.version)
            == (other.topic, other.partition, other.version)
            and self.first <= other.last
            and other.first <= self.last
        )

    @classmethod
    def parse(cls, name: str) -> BatchFile | None:
        match = _BATCH_NAME.match(name)
        if match is None:
            return None
        return cls(
            match["topic"],
            int(match["partition"]),
            int(match["first"]),
            int(match["last"]),
            int(match["version"]),
        )


@dataclass(frozen=True)
class CompactedFile:
    """The name of a compacted file: one topic's rows of one version in one partition dir."""

    topic: str
    version: int
    digest: str

    @property
    def name(self) -> str:
        return f"{COMPACTED_PREFIX}{self.topic}+v{self.version}+{self.digest}.parquet"

    @classmethod
    def replacing(cls, topic: str, version: int, inputs: Iterable[str]) -> CompactedFile:
        """The compacted file that replaces the files named ``inputs``."""
        digest = hashlib.sha256("\n".join(sorted(inputs)).encode()).hexdigest()[:16]
        return cls(topic, version, digest)

    @classmethod
    def parse(cls, name: str) -> CompactedFile | None:
        match = _COMPACTED_NAME.match(name)
        if match is None:
            return None
        return cls(match["topic"], int(match["version"]), match["digest"])


def partition_dir(stream: str, day: date) -> str:
    """The directory of one stream's events of one UTC date, relative to the root."""
    return f"stream={stream}/date={day.isoformat()}"


class LakeSettings(BaseModel):
    """Where the lake is: a local path (the default) or an object store URI.

    ``s3://bucket/prefix`` uses pyarrow's S3 filesystem; ``s3_endpoint`` points it at an
    S3-compatible server (MinIO: ``127.0.0.1:9000`` with ``s3_scheme="http"``).
    """

    uri: str = Field(default=".stack/lake", description="a path, file:// or s3:// URI")
    s3_endpoint: str | None = Field(
        default=None, description="host:port of an S3-compatible server"
    )
    s3_scheme: str = "https"
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_connect_timeout_s: float = 5.0
    s3_request_timeout_s: float = 30.0


@dataclass(frozen=True)
class LakeLocation:
    """An opened lake: its filesystem, and the root's path within it."""

    filesystem: pafs.FileSystem
    root: str
    uri: str

    @property
    def renames_atomically(self) -> bool:
        """True on a local filesystem: write a temporary file, then rename it into place."""
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def stream_glob(self, stream: str) -> str:
        """The glob DuckDB reads one stream with (``read_parquet(..., hive_partitioning=true,
        union_by_name=true)``); a local path, or the URI form on an object store."""
        base = self.root if self.renames_atomically else self.uri.rstrip("/")
        return f"{base.rstrip('/')}/stream={stream}/*/*.parquet"


def open_lake(settings: LakeSettings | str | Path) -> LakeLocation:
    """The lake at ``settings`` (a ``LakeSettings``, or a bare path/URI); connects nothing."""
    if not isinstance(settings, LakeSettings):
        settings = LakeSettings(uri=str(settings))
    uri = settings.uri
    if uri.startswith("s3://"):
        bucket_and_prefix = uri.removeprefix("s3://").strip("/")
        return LakeLocation(s3_filesystem(settings), bucket_and_prefix, uri)
    if "://" in uri and not uri.startswith("file://"):
        filesystem, path = pafs.FileSystem.from_uri(uri)
        return LakeLocation(filesystem, path, uri)
    local = Path(uri.removeprefix("file://")).expanduser().resolve()
    return LakeLocation(pafs.LocalFileSystem(), local.as_posix(), local.as_posix())


def s3_filesystem(settings: LakeSettings) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem for ``settings``. Built without a request: the region is given, not
    resolved from the bucket, and credentials are given or anonymous (no instance metadata)."""
    access = settings.s3_access_key.get_secret_value() if settings.s3_access_key else None
    secret = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
    return pafs.S3FileSystem(
        access_key=access,
        secret_key=secret,
        anonymous=access is None,
        region=settings.s3_region,
        scheme=settings.s3_scheme,
        endpoint_override=settings.s3_endpoint,
        connect_timeout=settings.s3_connect_timeout_s,
        request_timeout=settings.s3_request_timeout_s,
    )
