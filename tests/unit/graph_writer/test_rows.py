"""graph-writer's rows, with no I/O: watermarks skip what a partition applied already, rows are
aggregated per (user, target, type), and a product event is attributed to a campaign only when
the user's latest click on it was in the same session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from graph_writer.invalidations import invalidations_for
from graph_writer.rows import (
    clicks_to_look_up,
    partitions_of,
    plan_batch,
    target_of,
    unapplied,
    watermark_id,
)
from polystream_common.schemas import AnyUserEvent, UserEventV1, UserEventV2
from polystream_common.sink import SinkRecord

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TOPIC = "user.events"


def record(
    offset: int,
    user: str,
    kind: str,
    product: str | None = None,
    campaign: str | None = None,
    session: str = "s1",
    partition: int = 0,
) -> SinkRecord[AnyUserEvent]:
    event = UserEventV1.model_validate(
        {
            "event_id": uuid.UUID(int=partition * 10_000 + offset + 1),
            "event_time": T0 + timedelta(minutes=offset),
            "user_id": user,
            "session_id": session,
            "event_type": kind,
            "product_id": product,
            "campaign_id": campaign,
        }
    )
    return SinkRecord(event, TOPIC, partition, offset)


def keyed(rows: list[dict[str, Any]], *fields: str) -> dict[tuple[Any, ...], int]:
    return {tuple(row[f] for f in fields): row["count"] for row in rows}


def test_the_target_is_the_campaign_for_campaign_events_and_the_product_otherwise() -> None:
    assert target_of(record(0, "u", "campaign_view", campaign="c").value) == ("campaign", "c")
    assert target_of(record(0, "u", "purchase", "p", "c").value) == ("product", "p")
    assert target_of(record(0, "u", "view").value) is None  # names no product: changes nothing
    assert target_of(record(0, "u", "campaign_click").value) is None


def test_records_at_or_below_their_partitions_watermark_are_skipped_and_the_rest_ordered() -> None:
    batch = [record(o, "u", "view", "p", partition=p) for p in (1, 0) for o in (7, 5, 6)]
    marks = {watermark_id(TOPIC, 0): 6, watermark_id(TOPIC, 1): 4}
    fresh = unapplied(batch, marks)
    assert [(r.partition, r.offset) for r in fresh] == [(0, 7), (1, 5), (1, 6), (1, 7)]
    assert len(unapplied(batch, {})) == 6  # no watermark yet: nothing applied
    assert unapplied(batch, {watermark_id(TOPIC, 0): 9, watermark_id(TOPIC, 1): 7}) == []


def test_a_batch_applied_then_redelivered_adds_nothing_the_second_time() -> None:
    batch = [record(o, f"u{o % 2}", "view", f"p{o % 3}") for o in range(10)]
    first = plan_batch(unapplied(batch, {}), {})
    marks = {row["id"]: row["offset"] for row in first.watermarks}
    again = plan_batch(unapplied(batch, marks), {})
    assert first.relationships > 0 and again.relationships == 0 and again.watermarks == []
    # A redelivery that overlaps: only the part above the watermark counts.
    longer = [*batch, *(record(o, "u0", "view", "p0") for o in (10, 11))]
    overlap = plan_batch(unapplied(longer, marks), {})
    assert keyed(overlap.products, "user", "target", "type") == {("u0", "p0", "view"): 2}
    assert overlap.watermarks == [
        {"id": "user.events/0", "topic": TOPIC, "partition": 0, "offset": 11}
    ]


def test_rows_are_one_per_user_target_and_type_with_counts_and_first_and_last_times() -> None:
    batch = [
        record(0, "u1", "view", "p1"),
        record(1, "u1", "view", "p1"),
        record(2, "u1", "click", "p1"),
        record(3, "u2", "view", "p1"),
        record(4, "u1", "campaign_view", campaign="c1"),
        record(5, "u1", "view"),  # no product: no row, but the watermark moves past it
    ]
    planned = plan_batch(batch, {})
    assert keyed(planned.products, "user", "target", "type") == {
        ("u1", "p1", "view"): 2,
        ("u1", "p1", "click"): 1,
        ("u2", "p1", "view"): 1,
    }
    view = next(r for r in planned.products if (r["user"], r["type"]) == ("u1", "view"))
    assert (view["first_at"], view["last_at"]) == (T0, T0 + timedelta(minutes=1))
    assert keyed(planned.campaigns, "user", "target", "type") == {("u1", "c1", "campaign_view"): 1}
    assert planned.campaigns[0]["session"] is None  # only a click records its session
    assert planned.watermarks[0]["offset"] == 5


def test_products_after_a_click_in_the_same_session_are_promoted_by_the_campaign() -> None:
    batch = [
        record(0, "u1", "campaign_view", campaign="c1", session="s1"),
        record(1, "u1", "view", "p0", "c1", session="s1"),  # before the click: not attributed
        record(2, "u1", "campaign_click", campaign="c1", session="s1"),
        record(3, "u1", "view", "p1", "c1", session="s1"),
        record(4, "u1", "click", "p1", "c1", session="s1"),
        record(5, "u2", "campaign_view", campaign="c1", session="s2"),
        record(6, "u2", "view", "p2", "c1", session="s2"),  # viewed the campaign, never clicked
        record(7, "u1", "view", "p3", "c1", session="s3"),  # a later session, no click in it
    ]
    assert clicks_to_look_up(batch) == {("u1", "c1"), ("u2", "c1")}
    planned = plan_batch(batch, {})
    assert keyed(planned.promotes, "campaign", "product") == {("c1", "p1"): 2}
    click = next(r for r in planned.campaigns if r["type"] == "campaign_click")
    assert click["session"] == "s1"


def test_a_click_in_an_earlier_batch_is_read_from_the_graph() -> None:
    later = [
        record(10, "u1", "view", "p1", "c1", session="s1"),
        record(11, "u1", "campaign_click", campaign="c1", session="s4"),
        record(12, "u1", "view", "p2", "c1", session="s4"),
        record(13, "u9", "view", "p3", "c9", session="s1"),
    ]
    assert clicks_to_look_up(later) == {("u1", "c1"), ("u9", "c9")}
    planned = plan_batch(later, {("u1", "c1"): "s1"})  # u9 never clicked c9: absent
    assert keyed(planned.promotes, "campaign", "product") == {("c1", "p1"): 1, ("c1", "p2"): 1}
    # Without the stored click, the first product is not attributed.
    alone = plan_batch(later, {})
    assert keyed(alone.promotes, "campaign", "product") == {("c1", "p2"): 1}


def test_watermarks_cover_every_partition_of_the_batch() -> None:
    batch = [record(3, "u", "view", "p", partition=2), record(8, "u", "view", partition=0)]
    assert partitions_of(batch) == [
        {"id": "user.events/0", "topic": TOPIC, "partition": 0},
        {"id": "user.events/2", "topic": TOPIC, "partition": 2},
    ]
    assert [(w["partition"], w["offset"]) for w in plan_batch(batch, {}).watermarks] == [
        (0, 8),
        (2, 3),
    ]


def test_v2_events_are_written_like_v1() -> None:
    event = UserEventV2.model_validate(
        {**record(0, "u", "purchase", "p").value.model_dump(), "schema_version": 2, "device": "ios"}
    )
    planned = plan_batch([SinkRecord(event, TOPIC, 0, 0)], {})
    assert keyed(planned.products, "user", "target", "type") == {("u", "p", "purchase"): 1}


def test_one_invalidation_per_user_with_interactions_with_a_stable_id() -> None:
    batch = [
        record(0, "u1", "view", "p1"),
        record(1, "u2", "view"),  # changes nothing: no invalidation
        record(2, "u1", "click", "p1"),
        record(3, "u3", "campaign_view", campaign="c1"),
    ]
    sent = invalidations_for(batch)
    assert [(i.user_id, i.reason, i.event_time) for i in sent] == [
        ("u1", "interactions_changed", T0 + timedelta(minutes=2)),
        ("u3", "interactions_changed", T0 + timedelta(minutes=3)),
    ]
    assert [i.event_id for i in invalidations_for(batch)] == [i.event_id for i in sent]
    assert len({i.event_id for i in sent}) == 2
