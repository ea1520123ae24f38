"""Recommendation quality: precision@10, recall@10 and NDCG@10 of the hybrid recommender against
the most-popular, vector-only and graph-only baselines, on the producer's synthetic users (each
has two favourite categories of six; sessions mostly draw products from them), split by time per
user. The protocol is :mod:`recsys_api.quality`'s; this script supplies the data and the real
model (all-MiniLM-L6-v2, ONNX), runs ``--seeds`` data sets and writes
bench/results/recsys-quality.json.

``.venv/bin/python bench/recsys_quality.py`` (or ``python bench/run.py --only recsys-quality``).
CPU only, no stack: a seed is about 20 s, most of it brute-force cosine search in Python.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from results_file import write_results

from polystream_common.schemas import AnyUserEvent, Product
from polystream_embeddings.encoder import Encoder, load_encoder
from polystream_embeddings.settings import EmbeddingSettings
from producer.generators import Catalog, UserBehaviour
from recsys_api.quality import METHODS, QualityParameters, QualityReport, evaluate
from recsys_api.recommend import RecommendParameters

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / ".cache" / "models" / "all-MiniLM-L6-v2"
SEEDS = (1, 2, 3)
USERS, PRODUCTS, CAMPAIGNS = 300, 300, 12
SESSIONS = 2_400  # ~8 a user: ~30 product events (~20 distinct products) each
EVENT_GAP = timedelta(minutes=1)  # 2,400 sessions of ~5 events: about 8 days of traffic
START = datetime(2026, 1, 1, tzinfo=UTC)


class StepClock:
    """Event time that advances by ``gap`` at each event: deterministic, and the sessions lie
    in time in the order they were made."""

    def __init__(self, start: datetime, gap: timedelta) -> None:
        self._now, self._gap = start, gap

    def __call__(self) -> datetime:
        self._now += self._gap
        return self._now


def synthetic_data(
    seed: int, users: int, products: int, sessions: int, campaigns: int = CAMPAIGNS
) -> tuple[list[Product], list[AnyUserEvent], UserBehaviour]:
    """The producer's catalog and ``sessions`` user sessions, from one seed."""
    rng = random.Random(seed)
    clock = StepClock(START, EVENT_GAP)
    catalog = Catalog(random.Random(rng.getrandbits(64)), products=products, clock=clock)
    behaviour = UserBehaviour(
        random.Random(rng.getrandbits(64)),
        catalog,
        users_count=users,
        campaigns_count=campaigns,
        clock=clock,
    )
    events: list[AnyUserEvent] = [e for _ in range(sessions) for e in behaviour.session()]
    return catalog.products, events, behaviour


def interest_share(report: QualityReport, method: str, behaviour: UserBehaviour) -> float:
    """Of the products a method ranked, the share in one of the user's two favourite
    categories: how well it found *what kind* of thing the user likes (the data's only signal;
    within a category the generator draws products uniformly)."""
    interests = {u.user_id: set(u.interests) for u in behaviour.users}
    category = {p.product_id: p.category for p in behaviour.catalog.products}
    hits = total = 0
    for user, ranked in report.rankings[method].items():
        hits += sum(1 for id_ in ranked if category[id_] in interests[user])
        total += len(ranked)
    return hits / total if total else 0.0


async def run_seed(
    seed: int, encoder: Encoder, recommend: RecommendParameters, sessions: int
) -> dict[str, Any]:
    products, events, behaviour = synthetic_data(seed, USERS, PRODUCTS, sessions)
    report = await evaluate(products, events, encoder, recommend_parameters=recommend)
    return {
        "seed": seed,
        **report.figures(),
        "interest_share": {m: round(interest_share(report, m, behaviour), 4) for m in METHODS},
    }


def mean_scores(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    return {
        method: {
            metric: round(sum(run["scores"][method][metric] for run in runs) / len(runs), 4)
            for metric in runs[0]["scores"][method]
        }
        for method in METHODS
    }


def bench_quality(
    seeds: Sequence[int] = SEEDS,
    sessions: int = SESSIONS,
    recommend: RecommendParameters | None = None,
) -> dict[str, Any]:
    """The figures of every seed and their means (bench/run.py writes them the same way)."""
    settings = EmbeddingSettings(model_dir=MODEL_DIR, backend="onnx")
    encoder = load_encoder(settings)
    recommend = recommend or RecommendParameters()
    started = time.perf_counter()
    runs = [asyncio.run(run_seed(seed, encoder, recommend, sessions)) for seed in seeds]
    return {
        "encoder": {"model": settings.model_name, "backend": encoder.backend},
        "parameters": {
            "seeds": list(seeds),
            "users": USERS,
            "products": PRODUCTS,
            "campaigns": CAMPAIGNS,
            "sessions": sessions,
            "event_gap_s": EVENT_GAP.total_seconds(),
            "quality": {
                key: value if not isinstance(value, dict) else dict(value)
                for key, value in asdict(QualityParameters()).items()
            },
            "recommend": recommend.model_dump(),
        },
        "mean": mean_scores(runs),
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    for name, default in RecommendParameters().model_dump().items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    args = parser.parse_args()
    recommend = RecommendParameters(
        **{name: getattr(args, name) for name in RecommendParameters().model_dump()}
    )
    figures = bench_quality(args.seeds, args.sessions, recommend)
    out = write_results("recsys-quality", figures, echo=False)
    print(json.dumps({"mean": figures["mean"]}, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
