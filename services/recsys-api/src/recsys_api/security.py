"""Who may call what, and how often, on recsys-api: the shared API key and rate limits of
:mod:`polystream_web.security` (where the rules are written down), with one scope of its own:

- the API key guards every analytics route (and any admin route): ``RECSYS_API_API_KEY``;
- ``analytics``: one budget per client for all the analytics routes together
  (:data:`AnalyticsLimitDep`), on top of the per-route default: they are the expensive reads.
"""

from __future__ import annotations

from typing import Final

from fastapi import Depends

from polystream_web import security as web_security
from polystream_web.security import ApiKeyDep, RateLimits
from recsys_api.settings import RateLimitSettings

ANALYTICS_SCOPE: Final = "analytics"
KEY_PREFIX: Final = "recsys-api-ratelimit"


def build_limiter(settings: RateLimitSettings) -> RateLimits:
    """recsys-api's limits; raises :class:`ValueError` on a limit that does not parse."""
    return web_security.build_limiter(settings, KEY_PREFIX, {ANALYTICS_SCOPE: settings.analytics})


enforce_analytics_limit = web_security.scope_limit(ANALYTICS_SCOPE, "on the analytics routes")
"""Counts a request against its client's analytics budget; 429 when it is spent."""

AnalyticsLimitDep = Depends(enforce_analytics_limit)
"""``dependencies=[AnalyticsLimitDep]``: counts against the client's analytics budget."""

__all__ = ["AnalyticsLimitDep", "ApiKeyDep", "build_limiter", "enforce_analytics_limit"]
