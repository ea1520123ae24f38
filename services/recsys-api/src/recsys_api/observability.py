"""recsys-api's request metrics: the shared middleware of :mod:`polystream_web.observability`."""

from __future__ import annotations

from polystream_web.observability import REQUEST_SECONDS, UNMATCHED, instrument, route_of

__all__ = ["REQUEST_SECONDS", "UNMATCHED", "instrument", "route_of"]
