"""The local stack's ports and credentials, as the benchmarks read them: deploy/local/stack.env
(``KEY=value`` lines; blank lines and ``#`` comments skipped)."""

from __future__ import annotations

from pathlib import Path

STACK_ENV = Path(__file__).resolve().parents[1] / "deploy" / "local" / "stack.env"


def read_stack_env() -> dict[str, str]:
    """Ports and credentials of the local stack (deploy/local/stack.env)."""
    env: dict[str, str] = {}
    for line in STACK_ENV.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    return env
