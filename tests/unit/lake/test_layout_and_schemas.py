"""The lake's names, schemas and filesystem settings, without touching a disk or a network."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from polystream_lake import (
    LAKE_STREAMS,
    USER_EVENTS_LAKE,
    BatchFile,
    CompactedFile,
    CompactionSettings,
    LakeSettings,
    open_lake,
    partition_dir,
)
from polystream_lake.layout import s3_filesystem


def test_a_batch_file_is_named_after_what_it_holds() -> None:
    name = BatchFile("user.events", 3, 7, 1234, 2).name
    assert name == ("user.events+3+00000000000000000007+00000000000000001234+v2.parquet")
    assert BatchFile.parse(name) == BatchFile("user.events", 3, 7, 1234, 2)
    # zero-padded offsets sort as numbers
    assert BatchFile("t", 0, 9, 9, 1).name < BatchFile("t", 0, 10, 10, 1).name


def test_names_of_other_files_do_not_parse_as_batch_files() -> None:
    assert BatchFile.parse("compacted+user.events+v1+0123456789abcdef.parquet") is None
    assert BatchFile.parse(".user.events+0+1+2+v1.parquet.ab12.tmp") is None
    assert CompactedFile.parse("user.events+0+1+2+v1.parquet") is None


def test_overlap_is_per_topic_partition_and_version() -> None:
    base = BatchFile("t", 0, 10, 20, 1)
    assert base.overlaps(BatchFile("t", 0, 20, 30, 1))
    assert base.overlaps(BatchFile("t", 0, 0, 10, 1))
    assert base.overlaps(BatchFile("t", 0, 12, 15, 1))
    assert not base.overlaps(BatchFile("t", 0, 21, 30, 1))
    assert not base.overlaps(BatchFile("t", 1, 10, 20, 1))
    assert not base.overlaps(BatchFile("t", 0, 10, 20, 2))
    assert not base.overlaps(BatchFile("u", 0, 10, 20, 1))


def test_a_compacted_file_is_named_after_the_files_it_replaces() -> None:
    one = CompactedFile.replacing("user.events", 1, ["b.parquet", "a.parquet"])
    same = CompactedFile.replacing("user.events", 1, ["a.parquet", "b.parquet"])
    other = CompactedFile.replacing("user.events", 1, ["a.parquet", "c.parquet"])
    assert one == same != other
    assert one.name.startswith("compacted+user.events+v1+")
    assert CompactedFile.parse(one.name) == one


def test_partition_directories_are_hive_style() -> None:
    from datetime import date

    assert partition_dir("user_events", date(2026, 1, 2)) == "stream=user_events/date=2026-01-02"


def test_every_stream_has_the_wire_fields_and_the_kafka_coordinates() -> None:
    for stream in LAKE_STREAMS:
        for version, model in stream.models.items():
            schema = stream.schema(version)
            assert schema.names == [
                *model.model_fields,
                "kafka_topic",
                "kafka_partition",
                "kafka_offset",
            ]
            assert schema.field("event_id").type == pa.string()
            assert schema.field("event_time").type == pa.timestamp("us", tz="UTC")
            assert schema.field("kafka_partition").type == pa.int32()
            assert schema.field("kafka_offset").type == pa.int64()


def test_user_events_v2_adds_device_and_v1_has_none() -> None:
    v1, v2 = USER_EVENTS_LAKE.schema(1), USER_EVENTS_LAKE.schema(2)
    assert "device" not in v1.names
    assert v2.field("device").type == pa.string() and v2.field("device").nullable
    assert [n for n in v2.names if n != "device"] == v1.names
    assert v1.field("price").type == pa.float64() and v1.field("price").nullable
    assert v1.field("quantity").type == pa.int64()


def test_product_tags_are_a_list_of_strings() -> None:
    from polystream_lake import PRODUCTS_LAKE

    assert PRODUCTS_LAKE.schema(1).field("tags").type == pa.list_(pa.string())


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown schema version 3"):
        USER_EVENTS_LAKE.schema(3)


def test_a_path_opens_the_local_filesystem(tmp_path_factory: pytest.TempPathFactory) -> None:
    location = open_lake("some/relative/lake")
    assert isinstance(location.filesystem, pafs.LocalFileSystem)
    assert location.root.endswith("/some/relative/lake") and location.root.startswith("/")
    assert location.renames_atomically
    assert location.stream_glob("user_events") == f"{location.root}/stream=user_events/*/*.parquet"


def test_an_s3_uri_with_an_endpoint_builds_the_s3_filesystem_without_connecting() -> None:
    settings = LakeSettings(
        uri="s3://lake-bucket/polystream",
        s3_endpoint="127.0.0.1:9000",
        s3_scheme="http",
        s3_region="eu-west-1",
        s3_access_key="minio",  # type: ignore[arg-type]
        s3_secret_key="minio-secret",  # type: ignore[arg-type]
    )
    location = open_lake(settings)
    assert isinstance(location.filesystem, pafs.S3FileSystem)
    assert location.root == "lake-bucket/polystream"
    assert not location.renames_atomically  # a whole-object PUT is the atomic step there
    assert (
        location.stream_glob("products")
        == "s3://lake-bucket/polystream/stream=products/*/*.parquet"
    )
    # the options pyarrow keeps for the filesystem are the ones we set
    options = location.filesystem.__reduce__()[1][0]
    assert options["endpoint_override"] == "127.0.0.1:9000"
    assert options["scheme"] == "http"
    assert options["region"] == "eu-west-1"
    assert options["access_key"] == "minio" and options["secret_key"] == "minio-secret"
    assert options["anonymous"] is False


def test_s3_without_credentials_is_anonymous() -> None:
    filesystem = s3_filesystem(LakeSettings(uri="s3://b", s3_endpoint="minio:9000"))
    options = filesystem.__reduce__()[1][0]
    assert options["anonymous"] is True and options["endpoint_override"] == "minio:9000"


@pytest.mark.parametrize(("min_days_old", "first_left_alone"), [(0, 3), (1, 2), (2, 1)])
def test_compaction_takes_the_dates_at_least_min_days_old(
    min_days_old: int, first_left_alone: int
) -> None:
    settings = CompactionSettings(min_days_old=min_days_old, min_age_s=90)
    assert settings.before(date(2026, 12, 2)) == date(2026, 12, first_left_alone)
    assert settings.min_age == timedelta(seconds=90)
