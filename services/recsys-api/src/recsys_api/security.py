"""Who may call what, and how often, on recsys-api: the shared API key and rate limits of
:mod:`polystream_web.security` (where the rules are written down), with one scope of its own:

- the API key guards every analytics route (and any admin route): ``RECSYS_API_API_KEY``;
- ``analytics``: one budget per client for all the analytics routes together
  (:data:`AnalyticsLimitDep`), on top of the per-route default: they are the expensive reads.
"""

from __future__ import annotations

from typing import Final

from fastapi import Depends, Request

from polystream_web import security as web_security
from polystream_web.security import (
    API_KEY_HEADER,
    ApiKeyDep,
    RateLimits,
    enforce_default_limit,
    install_api_key,
    require_api_key,
)
from recsys_api.settings import RateLimitSettings

ANALYTICS_SCOPE: Final = "analytics"
KEY_PREFIX: Final = "recsys-api-ratelimit"


def build_limiter(settings: RateLimitSettings) -> RateLimits:
    """recsys-api's limits; raises :class:`ValueError` on a limit that does not parse."""
    return web_security.build_limiter(settings, KEY_PREFIX, {ANALYTICS_SCOPE: settings.analytics})


_enforce_analytics = web_security.scope_limit(ANALYTICS_SCOPE, "on the analytics routes")


def enforce_analytics_limit(request: Request) -> None:
    """Count this request against its client's analytics budget; 429 when it is spent."""
    _enforce_analytics(request)


AnalyticsLimitDep = Depends(enforce_analytics_limit)
"""``dependencies=[AnalyticsLimitDep]``: counts against the client's analytics budget."""

__all__ = [
    "API_KEY_HEADER",
    "AnalyticsLimitDep",
    "ApiKeyDep",
    "RateLimits",
    "build_limiter",
    "enforce_analytics_limit",
    "enforce_default_limit",
    "install_api_key",
    "require_api_key",
]
