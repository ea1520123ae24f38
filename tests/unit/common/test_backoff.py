from __future__ import annotations

import random

from polystream_common.backoff import Backoff


def test_delays_grow_exponentially_under_the_cap_and_reset() -> None:
    backoff = Backoff(base_s=0.1, cap_s=2.0, rng=random.Random(1))
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    delays = [backoff.next_delay() for _ in ceilings]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[4:]) > 0.2  # jitter still spans the grown window
    backoff.reset()
    assert backoff.next_delay() <= 0.1
