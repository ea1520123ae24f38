"""Engagement arithmetic: entities of an event, windows, counts, the decayed score."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aggregator.engagement import (
    Score,
    count_first,
    count_more,
    decay,
    entity_key,
    epoch_ms,
    fold_window,
    from_epoch_ms,
    interactions,
    split_entity_key,
    window_start_ms,
)
from aggregator.settings import EngagementSettings
from quixstreams.dataframe.windows.time_based import get_window_ranges

from polystream_common.schemas import UserEventV1, UserEventV2

HOUR_MS = 3_600_000
WEIGHTS = EngagementSettings().weights()


def event(**fields: object) -> UserEventV1:
    base: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "event_time": datetime(2026, 12, 1, 12, tzinfo=UTC),
        "user_id": "u1",
        "session_id": "s1",
        "event_type": "view",
    }
    return UserEventV1.model_validate({**base, **fields})


def test_an_event_engages_its_product_and_its_campaign() -> None:
    both = event(event_type="click", product_id="p1", campaign_id="c1")
    assert interactions(both) == [
        {"entity": "product:p1", "type": "click"},
        {"entity": "campaign:c1", "type": "click"},
    ]
    assert interactions(event(campaign_id="c1", event_type="campaign_view")) == [
        {"entity": "campaign:c1", "type": "campaign_view"}
    ]
    assert interactions(event()) == []
    v2 = UserEventV2.model_validate({**event(product_id="p:2").model_dump(), "schema_version": 2})
    assert interactions(v2) == [{"entity": "product:p:2", "type": "view"}]


def test_entity_keys_round_trip_ids_with_colons() -> None:
    assert split_entity_key(entity_key("product", "a:b")) == ("product", "a:b")


def test_epoch_ms_is_exact_and_round_trips() -> None:
    moment = datetime(2026, 12, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    assert epoch_ms(moment) == 1_796_126_400_999
    assert from_epoch_ms(epoch_ms(moment)) == moment.replace(microsecond=999_000)
    other_zone = moment.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert epoch_ms(other_zone) == epoch_ms(moment)


@pytest.mark.parametrize("timestamp", [0, 1, 59_999, 60_000, 1_796_126_400_999])
@pytest.mark.parametrize("duration", [1_000, 60_000, 300_000])
def test_window_assignment_matches_quix(timestamp: int, duration: int) -> None:
    """The recount (tests, analytics) assigns windows exactly as Quix's tumbling windows do."""
    ((start, end),) = get_window_ranges(timestamp, duration)
    assert window_start_ms(timestamp, duration) == start
    assert end == start + duration


def test_counts_by_type() -> None:
    counts = count_first({"entity": "product:p", "type": "view"})
    for kind in ("view", "click", "view"):
        counts = count_more(counts, {"entity": "product:p", "type": kind})
    assert counts == {"view": 3, "click": 1}


def test_weights_rank_purchase_over_cart_over_click_over_view() -> None:
    assert WEIGHTS["purchase"] > WEIGHTS["add_to_cart"] > WEIGHTS["click"] > WEIGHTS["view"]
    assert WEIGHTS["campaign_click"] > WEIGHTS["campaign_view"]


def test_decay_halves_per_half_life() -> None:
    assert decay(0, HOUR_MS) == 1.0
    assert decay(HOUR_MS, HOUR_MS) == pytest.approx(0.5)
    assert decay(3 * HOUR_MS, HOUR_MS) == pytest.approx(0.125)


def test_fold_window_decays_the_old_score_and_adds_the_window() -> None:
    first = fold_window(Score(), HOUR_MS, {"view": 2, "purchase": 1}, WEIGHTS, HOUR_MS)
    assert first.score == 2 * WEIGHTS["view"] + WEIGHTS["purchase"]
    assert first.as_of_ms == HOUR_MS
    assert first.totals == {"view": 2, "purchase": 1}

    second = fold_window(first, 3 * HOUR_MS, {"click": 1}, WEIGHTS, HOUR_MS)
    assert second.score == pytest.approx(first.score * 0.25 + WEIGHTS["click"])
    assert second.as_of_ms == 3 * HOUR_MS
    assert second.totals == {"view": 2, "purchase": 1, "click": 1}
    assert first.totals == {"view": 2, "purchase": 1}  # folding does not mutate


def test_a_window_older_than_the_score_adds_its_weight_decayed() -> None:
    score = Score(10.0, 2 * HOUR_MS, {"view": 10})
    folded = fold_window(score, HOUR_MS, {"view": 4}, WEIGHTS, HOUR_MS)
    assert folded.as_of_ms == 2 * HOUR_MS
    assert folded.score == pytest.approx(10.0 + 4 * 0.5)


def test_folding_windows_is_independent_of_how_they_are_grouped() -> None:
    """Decay is multiplicative: a score decayed to t and read later equals folding to later."""
    windows = [(HOUR_MS, {"view": 3}), (2 * HOUR_MS, {"click": 2}), (5 * HOUR_MS, {"purchase": 1})]
    score = Score()
    for end, counts in windows:
        score = fold_window(score, end, counts, WEIGHTS, HOUR_MS)
    direct = sum(
        WEIGHTS[k] * n * decay(5 * HOUR_MS - end, HOUR_MS)
        for end, counts in windows
        for k, n in counts.items()
    )
    assert score.score == pytest.approx(direct)


def test_score_state_round_trips() -> None:
    score = Score(1.5, 42, {"view": 1})
    assert Score.from_state(score.to_state()) == score
    assert Score.from_state(None) == Score()


def test_an_interaction_never_decays_more_than_one_window_late() -> None:
    """The documented approximation: 1-minute windows and a 6-hour half-life lose <= 0.2%."""
    settings = EngagementSettings()
    assert 1 - decay(settings.window_s * 1000, settings.half_life_s * 1000) < 0.002


def test_event_time_defines_the_window_not_arrival() -> None:
    late = event(event_time=datetime(2026, 12, 1, 12, tzinfo=UTC) + timedelta(seconds=59))
    assert window_start_ms(epoch_ms(late.event_time), 60_000) == epoch_ms(
        datetime(2026, 12, 1, 12, tzinfo=UTC)
    )
