"""What every service's command line shares: one typer app per service, ISO 8601 times, a time
window's options, JSON output.

A service's ``main(argv)`` runs its app; ``python -m <package>`` calls ``main()`` and nothing else.
A consumer service's app comes from :func:`consumer_app`: with no command, or with ``run``, it runs
the consumer; one-off commands (``migrate``, ``analytics ...``) are added to it. An app exits
through ``SystemExit`` with the command's status (2 for a usage error), as a CLI should.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer


def timestamp(text: str) -> datetime:
    """An ISO 8601 time, aware: UTC when ``text`` names no offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


Since = Annotated[
    datetime | None,
    typer.Option(
        "--since",
        parser=timestamp,
        metavar="TIME",
        help="window start, inclusive (ISO 8601, UTC when no offset); default: see the command",
    ),
]
"""``--since TIME``: the start of a command's time window."""

Until = Annotated[
    datetime | None,
    typer.Option(
        "--until",
        parser=timestamp,
        metavar="TIME",
        help="window end, exclusive (ISO 8601, UTC when no offset); default: now",
    ),
]
"""``--until TIME``: the end of a command's time window."""


def time_window(
    since: datetime | None, until: datetime | None, span: timedelta
) -> tuple[datetime, datetime]:
    """``[since, until)`` with the defaults of :data:`Since`/:data:`Until`: ``until`` now,
    ``since`` one ``span`` before ``until``."""
    end = until or datetime.now(UTC)
    return since or end - span, end


def _json_default(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # UUIDs, Decimals, ObjectIds: their text form


def print_json(value: object) -> None:
    """Print ``value`` to stdout as indented JSON: dataclasses as objects, times in ISO 8601,
    other values JSON lacks (UUIDs, ...) as their text."""
    typer.echo(json.dumps(value, default=_json_default, indent=2))


def service_app(help: str) -> typer.Typer:
    """A service's typer app: plain help text (docstrings stay literal), no shell-completion
    options, and tracebacks left to logging: typer's pretty tracebacks would print every frame's
    locals, secrets included."""
    return typer.Typer(
        help=help,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )


def consumer_app(help: str, run: Callable[[], None], run_help: str) -> typer.Typer:
    """A consumer service's app: ``run``, also the default when no command is given, calls
    ``run`` (typically ``consumer_main(Settings, bootstrap)``); add the one-off commands to it."""
    app = service_app(help)

    @app.callback(invoke_without_command=True)
    def default(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            run()

    @app.command("run", help=run_help)
    def run_command() -> None:
        run()

    return app
