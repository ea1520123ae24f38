"""Who may call what, and how often: the optional API key and the per-client rate limits, shared
by polystream's APIs.

- **API key.** :func:`install_api_key` puts the service's key (or None) on the app. A route that
  depends on :data:`ApiKeyDep` then wants it in the ``X-API-Key`` header: missing or wrong is a
  401 with a message. The comparison is constant-time (``secrets.compare_digest``) on UTF-8
  bytes, so a header that is not ASCII is a wrong key, not a 500. Without a key configured those
  routes are open (development only: each service's settings refuse a missing key elsewhere).
- **Rate limits** are counted by slowapi's limiter per client address (``request.client.host``:
  behind a proxy, run uvicorn with ``--proxy-headers`` so it is the caller's, not the proxy's),
  in fixed windows in ``storage_uri`` (``memory://`` per replica, ``redis://`` shared):

  - ``default`` on every route, per route (its template) and client
    (:func:`enforce_default_limit`, an app-wide dependency);
  - named *scopes* on top of it, one budget per client for all the routes of a scope together
    (:func:`scope_limit`): recsys-api's analytics, for instance.

  Over a limit is a 429 with a message and ``Retry-After`` (seconds until the window resets).
  A rate-limit storage that fails lets requests through (logged): the limits protect the stores,
  and an outage of Redis must not take the API down with it.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Final

from fastapi import Depends, FastAPI, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from limits import RateLimitItem, parse
from pydantic import BaseModel, Field, SecretStr
from slowapi import Limiter
from slowapi.util import get_remote_address

log = logging.getLogger(__name__)

API_KEY_HEADER: Final = "X-API-Key"


class RateLimitSettings(BaseModel):
    """Per-client limits (slowapi), in the ``limits`` notation: ``"100/second"``."""

    enabled: bool = True
    default: str = Field(default="200/second", description="every route")
    storage_uri: str = Field(
        default="memory://",
        description="memory:// (per replica) or a redis:// URL shared by the replicas",
    )


_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,  # our 401 says what is wrong; FastAPI's would be a bare 403
    description="the service's API key (settings: <SERVICE>_API_KEY)",
)


def install_api_key(app: FastAPI, api_key: SecretStr | None) -> None:
    """The key :data:`ApiKeyDep` checks on ``app``'s routes; None leaves them open."""
    app.state.api_key = api_key


def require_api_key(
    request: Request, given: Annotated[str | None, Security(_api_key_header)] = None
) -> None:
    """Refuse the request (401) unless it carries the configured API key; no key configured
    lets every request through."""
    configured: SecretStr | None = getattr(request.app.state, "api_key", None)
    if configured is None:
        return
    challenge = {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'}
    if not given:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"missing API key: send it in the {API_KEY_HEADER} header",
            headers=challenge,
        )
    if not secrets.compare_digest(given.encode(), configured.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail="invalid API key", headers=challenge
        )


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The app's slowapi limiter (its storage and strategy) and the parsed limits."""

    limiter: Limiter
    default: RateLimitItem
    key_prefix: str
    scopes: Mapping[str, RateLimitItem] = field(default_factory=dict)


def build_limiter(
    settings: RateLimitSettings, key_prefix: str, scopes: Mapping[str, str] | None = None
) -> RateLimits:
    """The limits of one app, counted under ``key_prefix`` in the storage, with the named
    ``scopes`` (scope -> limit). Raises :class:`ValueError` on a limit that does not parse, so a
    bad setting stops the service at start rather than at the first request. Connects nowhere:
    a ``redis://`` storage connects on its first hit."""
    default = parse(settings.default)
    parsed = {scope: parse(limit) for scope, limit in (scopes or {}).items()}
    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri=settings.storage_uri,
        enabled=settings.enabled,
        key_prefix=key_prefix,
    )
    return RateLimits(limiter=limiter, default=default, key_prefix=key_prefix, scopes=parsed)


def install_rate_limits(app: FastAPI, limits: RateLimits) -> None:
    """The limits on ``app``: the default one on every route of it, as an app-wide dependency.

    Not slowapi's middleware nor its decorator: with FastAPI's lazily included routers the
    middleware finds no route handler for any request, so it exempts them all. A dependency runs
    once the route is matched and knows its template."""
    app.state.rate_limits = limits
    app.router.dependencies.append(Depends(enforce_default_limit))


def _rate_limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def _enforce(
    request: Request, limits: RateLimits, item: RateLimitItem, scope: str, where: str
) -> None:
    limiter = limits.limiter
    if not limiter.enabled:
        return
    identifiers = [limits.key_prefix, get_remote_address(request), scope]
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
    _enforce(request, limits, limits.default, scope, "on this route")


def scope_limit(scope: str, where: str) -> Callable[[Request], None]:
    """A dependency counting a request against its client's budget of ``scope`` (one budget for
    every route that depends on it); 429, saying ``where``, when it is spent."""

    def enforce(request: Request) -> None:
        limits = _rate_limits(request)
        _enforce(request, limits, limits.scopes[scope], scope, where)

    enforce.__name__ = f"enforce_{scope}_limit"
    return enforce


ApiKeyDep = Depends(require_api_key)
"""``dependencies=[ApiKeyDep]`` on a router or route: it wants the API key."""

__all__ = [
    "API_KEY_HEADER",
    "ApiKeyDep",
    "RateLimitSettings",
    "RateLimits",
    "build_limiter",
    "enforce_default_limit",
    "install_api_key",
    "install_rate_limits",
    "require_api_key",
    "scope_limit",
]
