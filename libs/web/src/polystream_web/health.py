"""Liveness and readiness, the same on every polystream API.

- ``GET /healthz`` (:func:`healthz`): the process is up and serving; it checks nothing else, so
  a store that is down never gets a replica restarted.
- ``GET /readyz``: the service's own route, which names its probes (one awaitable per dependency)
  and answers :func:`readiness_response` of :func:`run_probes`: the probes run concurrently, each
  within the timeout; 200 when each required one is ``"ok"``, else 503, with every probe's
  ``"ok"`` or ``"down: <reason>"`` in the body. Redis (:data:`NOT_REQUIRED`) is reported but never
  makes an API unready: without it the look-aside cache serves every read from the stores.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

NOT_REQUIRED: Final = frozenset({"redis"})
"""Probes reported by ``/readyz`` that do not make the API unready."""


class Health(BaseModel):
    status: str = "ok"


async def healthz() -> Health:
    """The process is up and serving (liveness): checks nothing else."""
    return Health()


def install_health_routes(router: APIRouter, readyz: Callable[..., Awaitable[Any]]) -> None:
    """``GET /healthz`` (:func:`healthz`) and ``GET /readyz`` (the service's ``readyz``, which
    answers :func:`readiness_response`) on ``router``, in that order."""
    router.add_api_route("/healthz", healthz, response_model=Health, tags=["health"])
    router.add_api_route(
        "/readyz",
        readyz,
        response_model=dict[str, str],
        responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": dict[str, str]}},
        tags=["health"],
    )


async def run_probes(
    probes: Mapping[str, Awaitable[Any]], timeout_s: float, *, log: logging.Logger | None = None
) -> dict[str, str]:
    """Await every probe concurrently, each within ``timeout_s``: ``"ok"``, or ``"down: ..."``
    with the timeout or the exception's type. Any failure means not ready: none is raised.
    ``log``: where a failed probe's exception is logged, with its traceback."""
    names = list(probes)
    results = await asyncio.gather(*(_probe(probes[name], timeout_s, log) for name in names))
    return dict(zip(names, results, strict=True))


def readiness_response(checks: Mapping[str, str]) -> JSONResponse:
    """200 when every check but the :data:`NOT_REQUIRED` ones is ``"ok"``, else 503; the checks
    are the body."""
    ready = all(value == "ok" for name, value in checks.items() if name not in NOT_REQUIRED)
    code = status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE
    return JSONResponse(dict(checks), status_code=code)


async def _probe(probe: Awaitable[Any], timeout_s: float, log: logging.Logger | None) -> str:
    try:
        await asyncio.wait_for(probe, timeout_s)
    except TimeoutError:
        return f"down: no answer within {timeout_s}s"
    except Exception as exc:  # the reason is shown; a bug shows as its exception type
        if log is not None:
            log.warning("readiness check failed", exc_info=True)
        return f"down: {type(exc).__name__}"
    return "ok"


__all__ = [
    "NOT_REQUIRED",
    "Health",
    "healthz",
    "install_health_routes",
    "readiness_response",
    "run_probes",
]
