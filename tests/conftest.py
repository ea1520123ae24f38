"""Shared fixtures. Integration and e2e tests use the real local stack (deploy/local): the
session fixture ``stack`` brings it up, or reuses one that is running. No server is mocked, and a
missing server fails the test rather than skipping it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STACK_ENV = ROOT / "deploy" / "local" / "stack.env"


def read_stack_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in STACK_ENV.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    return env


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    return read_stack_env()


@pytest.fixture(scope="session")
def stack(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The running local stack; started by this fixture if it is not up yet (left up after)."""
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / "stack.sh"), "up"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        pytest.fail(f"local stack failed to start:\n{result.stdout}\n{result.stderr}")
    yield stack_env


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: dict[str, str]) -> str:
    return f"127.0.0.1:{stack['KAFKA_PORT']}"


@pytest.fixture(scope="session")
def postgres_dsn(stack: dict[str, str]) -> str:
    return (
        f"postgresql://{stack['POSTGRES_USER']}:{stack['POSTGRES_PASSWORD']}"
        f"@127.0.0.1:{stack['POSTGRES_PORT']}/{stack['POSTGRES_DB']}"
    )


@pytest.fixture(scope="session")
def mongo_url(stack: dict[str, str]) -> str:
    return f"mongodb://127.0.0.1:{stack['MONGO_PORT']}"
