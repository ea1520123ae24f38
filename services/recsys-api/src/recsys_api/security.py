"""Who may call what, and how often: the optional API key and the per-client rate limits.

- **API key.** When the settings have ``api_key`` (required outside development, see
  :mod:`recsys_api.settings`), a route that depends on :data:`ApiKeyDep` (every analytics route,
  and any admin route) wants it in the ``X-API-Key`` header: missing or wrong is a 401 with a
  message. The comparison is constant-time (``secrets.compare_digest``) on UTF-8 bytes, so a
  header that is not ASCII is a wrong key, not a 500. Without a key configured those routes are
  open (development only).
- **Rate limits** are counted by slowapi's limiter per client address (``request.client.host``:
  behind a proxy, run uvicorn with ``--proxy-headers`` so it is the caller's, not the proxy's),
  in fixed windows in ``storage_uri`` (``memory://`` per replica, ``redis://`` shared):

  - ``default`` on every route, per route (its template) and client
    (:func:`enforce_default_limit`, an app-wide dependency);
  - ``analytics`` on top of it, one budget per client for all the analytics routes together
    (:data:`AnalyticsLimitDep`): they are the expensive reads.

  Over a limit is a 429 with a message and ``Retry-After`` (seconds until the window resets).
  A rate-limit storage that fails lets requests through (logged): the limits protect the stores,
  and an outage of Redis must not take the API down with it.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, FastAPI, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from limits import RateLimitItem, parse
from slowapi import Limiter
from slowapi.util import get_remote_address

from recsys_api.deps import SettingsDep
from recsys_api.settings import RateLimitSettings

log = logging.getLogger(__name__)

API_KEY_HEADER: Final = "X-API-Key"
ANALYTICS_SCOPE: Final = "analytics"
KEY_PREFIX: Final = "recsys-api-ratelimit"

_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,  # our 401 says what is wrong; FastAPI's would be a bare 403
    description="the service's API key (settings: RECSYS_API_API_KEY)",
)


def require_api_key(
    settings: SettingsDep, given: Annotated[str | None, Security(_api_key_header)] = None
) -> None:
    """Refuse the request (401) unless it carries the configured API key; no key configured
    lets every request through."""
    if settings.api_key is None:
        return
    challenge = {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'}
    if not given:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"missing API key: send it in the {API_KEY_HEADER} header",
            headers=challenge,
        )
    expected = settings.api_key.get_secret_value()
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail="invalid API key", headers=challenge
        )


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The app's slowapi limiter (its storage and strategy) and the parsed limits."""

    limiter: Limiter
    default: RateLimitItem
    analytics: RateLimitItem


def build_limiter(settings: RateLimitSettings) -> RateLimits:
    """The limits of one app. Raises :class:`ValueError` on a limit that does not parse, so a bad
    setting stops the service at start rather than at the first request. Connects nowhere: a
    ``redis://`` storage connects on its first hit."""
    default, analytics = parse(settings.default), parse(settings.analytics)
    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri=settings.storage_uri,
        enabled=settings.enabled,
        key_prefix=KEY_PREFIX,
    )
    return RateLimits(limiter=limiter, default=default, analytics=analytics)


def install_rate_limits(app: FastAPI, settings: RateLimitSettings) -> None:
    """The limits on ``app``: the default one on every route of it, as an app-wide dependency.

    Not slowapi's middleware nor its decorator: with FastAPI's lazily included routers the
    middleware finds no route handler for any request, so it exempts them all. A dependency runs
    once the route is matched and knows its template."""
    app.state.rate_limits = build_limiter(settings)
    app.router.dependencies.append(Depends(enforce_default_limit))


def _rate_limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def _enforce(
    request: Request, limiter: Limiter, item: RateLimitItem, scope: str, where: str
) -> None:
    if not limiter.enabled:
        return
    identifiers = [KEY_PREFIX, get_remote_address(request), scope]
    try:
        allowed = limiter.limiter.hit(item, *identifiers)
    except Exception:  # storage down: let it through (see the module docstring)
        log.warning("rate-limit storage failed: request not counted", exc_info=True)
        return
    if allowed:
        return
    try:
        reset_at = limiter.limiter.get_window_stats(item, *identifiers).reset_time
        retry_after_s = max(1, math.ceil(reset_at - time.time()))
    except Exception:  # storage failing now: the window's length is the upper bound
        retry_after_s = max(1, int(item.get_expiry()))
    raise HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"rate limit exceeded: {item} per client {where}; retry in {retry_after_s}s",
        headers={"Retry-After": str(retry_after_s)},
    )


def enforce_default_limit(request: Request) -> None:
    """Count this request against its client's budget on this route; 429 when it is spent."""
    route = request.scope.get("route")
    template = getattr(route, "path", None) or request.url.path
    limits = _rate_limits(request)
    scope = f"route:{request.method}:{template}"
    _enforce(request, limits.limiter, limits.default, scope, "on this route")


def enforce_analytics_limit(request: Request) -> None:
    """Count this request against its client's analytics budget; 429 when it is spent."""
    limits = _rate_limits(request)
    _enforce(request, limits.limiter, limits.analytics, ANALYTICS_SCOPE, "on the analytics routes")


ApiKeyDep = Depends(require_api_key)
"""``dependencies=[ApiKeyDep]`` on a router or route: it wants the API key."""
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
    "install_rate_limits",
    "require_api_key",
]
