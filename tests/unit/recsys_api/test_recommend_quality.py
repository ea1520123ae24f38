"""The hybrid recommender finds what synthetic users go on to touch clearly better than the
most-popular list, on held-out interactions (recsys_api.quality's protocol; bench/recsys_quality.py
runs it at full size with the real model). Small data and the hashing encoder: about a second a
seed, no network."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from aggregator.settings import EngagementSettings

from embedder.settings import ProfileSettings
from polystream_embeddings.testing import HashingEncoder
from producer.generators import Catalog, UserBehaviour
from recsys_api.quality import QualityParameters, evaluate, ndcg_at_k, precision_at_k, recall_at_k

USERS, PRODUCTS, CAMPAIGNS, SESSIONS = 100, 60, 6, 800  # ~30 product events a user

# Measured on seeds 1-10 (hybrid over popular): precision@10 x1.40-2.32, NDCG@10 x1.49-3.02;
# on the seeds below x1.69-2.32 and x1.94-3.02. 1.3 is well inside both.
MARGIN = 1.3


class StepClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_hybrid_beats_most_popular_on_held_out_interactions(seed: int) -> None:
    rng, clock = random.Random(seed), StepClock()
    catalog = Catalog(random.Random(rng.getrandbits(64)), products=PRODUCTS, clock=clock)
    behaviour = UserBehaviour(
        random.Random(rng.getrandbits(64)),
        catalog,
        users_count=USERS,
        campaigns_count=CAMPAIGNS,
        clock=clock,
    )
    events = [event for _ in range(SESSIONS) for event in behaviour.session()]

    report = await evaluate(catalog.products, events, HashingEncoder(128))

    hybrid, popular = report.scores["hybrid"], report.scores["popular"]
    assert report.users_scored >= 0.8 * USERS
    assert report.hybrid["strategy_hybrid"] == 1.0  # every user scored had neighbours
    assert hybrid.precision >= MARGIN * popular.precision
    assert hybrid.ndcg >= MARGIN * popular.ndcg


def test_protocol_weights_are_the_services_own() -> None:
    """quality.py restates the embedder's and the aggregator's defaults (it cannot import
    them): a change there must reach the evaluation."""
    parameters = QualityParameters()
    profiles, engagement = ProfileSettings(), EngagementSettings()
    assert dict(parameters.profile_weights) == profiles.event_weights
    assert parameters.profile_half_life_s == profiles.half_life_hours * 3600
    assert dict(parameters.engagement_weights) == engagement.weights()
    assert parameters.engagement_half_life_s == engagement.half_life_s


def test_metrics_on_a_hand_checked_ranking() -> None:
    ranked, relevant = ["a", "b", "c", "d"], {"b", "d", "z"}
    assert precision_at_k(ranked, relevant, 4) == 0.5
    assert precision_at_k(ranked[:1], relevant, 4) == 0.0  # a short list is not rewarded
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    # hits at ranks 2 and 4 against three at ranks 1-3
    dcg = 1 / 1.5849625007211562 + 1 / 2.321928094887362
    ideal = 1 + 1 / 1.5849625007211562 + 1 / 2
    assert ndcg_at_k(ranked, relevant, 4) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["b", "d", "z"], relevant, 4) == pytest.approx(1.0)
    assert ndcg_at_k(ranked, set(), 4) == 0.0
