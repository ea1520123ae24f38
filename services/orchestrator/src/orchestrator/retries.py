"""How the orchestrator's steps are retried: one Dagster RetryPolicy for the compaction and the
dbt steps, exponential backoff with jitter, and the errors that are worth it.

A transient error (a file busy or gone for a moment, the DuckDB file locked by a reader) is
raised as it is and the policy retries the step. A deterministic one (a failing dbt test, a SQL
error) is raised as ``Failure(allow_retries=False)``: running it again gives the same answer
later, so the run fails at once and the alert fires sooner.
"""

from __future__ import annotations

import re

import dagster as dg

from orchestrator.settings import RetrySettings

# DuckDB's words for a file another process holds, and I/O that may succeed a moment later.
TRANSIENT_DBT_ERRORS = re.compile(
    r"Could not set lock|Conflicting lock|IO Error|database is locked|Resource temporarily"
    r" unavailable|No such file or directory",
    re.IGNORECASE,
)


def retry_policy(settings: RetrySettings) -> dg.RetryPolicy:
    """``max_retries`` more attempts, ``delay_s * 2**n`` apart (+/- random jitter)."""
    return dg.RetryPolicy(
        max_retries=settings.max_retries,
        delay=settings.delay_s,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


def is_transient_dbt_failure(messages: list[str]) -> bool:
    """True when every failed dbt node failed for a reason a retry may cure."""
    return bool(messages) and all(TRANSIENT_DBT_ERRORS.search(m) for m in messages)
