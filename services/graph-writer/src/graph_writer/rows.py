"""From a batch of user events to the rows one graph transaction writes; pure, no I/O.

Exactly once on top of at-least-once delivery: each partition has a watermark in the graph, the
offset of the last user event of that partition whose effect is in it. A record at or below its
partition's watermark was applied already (a redelivery) and is skipped; the transaction that
adds a batch's counts also raises the watermarks to the batch's last offsets, so the effect and
its watermark commit together or not at all (sink.py's rule for per-partition state).

Rows are aggregated per key before they reach Neo4j (one row per (user, target, type), one per
(campaign, product)), so a batch adds ``count`` once per key, whatever its number of events.

Campaign -> product attribution (``PROMOTES``): the catalog names no campaign, and every event of
a session the producer's generator opens with a campaign carries its ``campaign_id``, clicked or
not. So a product event promotes its product for campaign C when the user's latest click on C
(before this event) was in the same session: the campaign brought the user to the product. The
latest click's session per (user, campaign) is kept on the click relationship (``session``);
within a batch the events are replayed in offset order, and what the batch does not say is read
from the graph first (:func:`clicks_to_look_up`). A user's events share a partition and arrive in
order, so "latest" is well defined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from polystream_common.schemas import AnyUserEvent
from polystream_common.sink import SinkRecord
from polystream_readmodels.graph import CAMPAIGN_CLICK

CAMPAIGN_TYPES = frozenset({"campaign_view", "campaign_click"})
UserCampaign = tuple[str, str]  # (user_id, campaign_id)


def watermark_id(topic: str, partition: int) -> str:
    """The id of a partition's watermark node."""
    return f"{topic}/{partition}"


def target_of(event: AnyUserEvent) -> tuple[str, str] | None:
    """What an event is an interaction with: ``("campaign", id)`` for a campaign event,
    ``("product", id)`` for a product event, None when it names no such target (it changes
    nothing in the graph, but its offset still moves the watermark)."""
    if event.event_type in CAMPAIGN_TYPES:
        return ("campaign", event.campaign_id) if event.campaign_id else None
    return ("product", event.product_id) if event.product_id else None


def unapplied(
    batch: Sequence[SinkRecord[AnyUserEvent]], watermarks: Mapping[str, int]
) -> list[SinkRecord[AnyUserEvent]]:
    """The records above their partition's watermark, in (partition, offset) order; a partition
    without a watermark has applied nothing (-1)."""
    fresh = [r for r in batch if r.offset > watermarks.get(watermark_id(r.topic, r.partition), -1)]
    return sorted(fresh, key=lambda r: (r.partition, r.offset))


def clicks_to_look_up(records: Sequence[SinkRecord[AnyUserEvent]]) -> set[UserCampaign]:
    """The (user, campaign) pairs whose latest click session must be read from the graph: a
    product event in a campaign's session with no click on that campaign before it in
    ``records`` (offset-ordered, as :func:`unapplied` returns them)."""
    clicked: set[UserCampaign] = set()
    wanted: set[UserCampaign] = set()
    for record in records:
        event = record.value
        if not event.campaign_id:
            continue
        pair = (event.user_id, event.campaign_id)
        if event.event_type == CAMPAIGN_CLICK:
            clicked.add(pair)
        elif event.product_id and event.event_type not in CAMPAIGN_TYPES and pair not in clicked:
            wanted.add(pair)
    return wanted


@dataclass
class _Tally:
    count: int
    first_at: datetime
    last_at: datetime
    session: str | None = None

    def add(self, at: datetime, session: str | None = None) -> None:
        self.count += 1
        self.first_at = min(self.first_at, at)
        self.last_at = max(self.last_at, at)
        if session is not None:
            self.session = session


@dataclass
class GraphBatch:
    """What one transaction writes for a batch of user events (its parameters, as dicts)."""

    products: list[dict[str, Any]] = field(default_factory=list)
    """Interactions with products: user, target, type, count, first_at, last_at."""
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    """Interactions with campaigns; a click row also has the latest click's ``session``."""
    promotes: list[dict[str, Any]] = field(default_factory=list)
    """campaign, product, count, first_at, last_at."""
    watermarks: list[dict[str, Any]] = field(default_factory=list)
    """id, topic, partition, offset: the last offset of each partition in the batch."""
    applied: int = 0
    """Records of the batch above the watermarks (the rest were redelivered)."""

    @property
    def relationships(self) -> int:
        return len(self.products) + len(self.campaigns) + len(self.promotes)


def plan_batch(
    records: Sequence[SinkRecord[AnyUserEvent]],
    stored_clicks: Mapping[UserCampaign, str],
) -> GraphBatch:
    """The rows of ``records`` (unapplied, offset-ordered): aggregated interactions, campaign
    attributions and the new watermarks. ``stored_clicks`` is the graph's latest click session of
    each pair :func:`clicks_to_look_up` named (a pair never clicked is absent)."""
    interactions: dict[tuple[str, str, str, str], _Tally] = {}
    promotes: dict[tuple[str, str], _Tally] = {}
    last_click = dict(stored_clicks)
    marks: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        marks[key] = max(marks.get(key, -1), record.offset)
        event = record.value
        target = target_of(event)
        if target is None:
            continue
        kind, target_id = target
        at = event.event_time
        clicked = event.event_type == CAMPAIGN_CLICK
        session = event.session_id if clicked else None
        tally = interactions.get((kind, event.user_id, target_id, event.event_type))
        if tally is None:
            interactions[(kind, event.user_id, target_id, event.event_type)] = _Tally(
                1, at, at, session
            )
        else:
            tally.add(at, session)
        if not event.campaign_id:
            continue
        pair = (event.user_id, event.campaign_id)
        if clicked:
            last_click[pair] = event.session_id
        elif kind == "product" and last_click.get(pair) == event.session_id:
            attribution = promotes.get((event.campaign_id, target_id))
            if attribution is None:
                promotes[(event.campaign_id, target_id)] = _Tally(1, at, at)
            else:
                attribution.add(at)
    batch = GraphBatch()
    for (kind, user, target_id, event_type), t in interactions.items():
        row: dict[str, Any] = {
            "user": user,
            "target": target_id,
            "type": event_type,
            "count": t.count,
            "first_at": t.first_at,
            "last_at": t.last_at,
        }
        if kind == "product":
            batch.products.append(row)
        else:
            batch.campaigns.append({**row, "session": t.session})
    batch.promotes = [
        {
            "campaign": campaign,
            "product": product,
            "count": t.count,
            "first_at": t.first_at,
            "last_at": t.last_at,
        }
        for (campaign, product), t in promotes.items()
    ]
    batch.watermarks = [
        {"id": watermark_id(topic, partition), "topic": topic, "partition": partition, "offset": o}
        for (topic, partition), o in sorted(marks.items())
    ]
    return batch


def partitions_of(batch: Iterable[SinkRecord[Any]]) -> list[dict[str, Any]]:
    """The watermark ids (with topic and partition) of the partitions ``batch`` covers."""
    seen = sorted({(r.topic, r.partition) for r in batch})
    return [{"id": watermark_id(t, p), "topic": t, "partition": p} for t, p in seen]
