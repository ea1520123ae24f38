"""What every PostgreSQL client of ours reads as "the server cannot take this now"."""

from __future__ import annotations

from typing import Final

import asyncpg

CONNECTION_REFUSED: Final[tuple[type[Exception], ...]] = (
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.TooManyConnectionsError,  # 53300
)
"""asyncpg's errors for a server that refuses the connection. A refused or reset socket comes
through as a bare ``OSError`` (a connect timeout as ``TimeoutError``, an ``OSError`` too):
writers add ``OSError`` themselves, while an API that talks to more stores than PostgreSQL
cannot tell from a bare ``OSError`` which one failed."""

UNAVAILABLE: Final[tuple[type[Exception], ...]] = (
    OSError,
    *CONNECTION_REFUSED,
    asyncpg.InterfaceError,  # the connection or pool closed under us
)
"""A writer's transient PostgreSQL errors: retry the batch later, the data is fine."""
