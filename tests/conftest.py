"""Shared fixtures. Integration and e2e tests use the real local stack (deploy/local): the
session fixture ``stack`` brings it up, or reuses one that is running. No server is mocked, and a
missing server fails the test rather than skipping it."""

from __future__ import annotations

import logging
import os
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


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test fails the run: every server is there, so a skip hides a broken one."""
    if os.environ.get("CI") and _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if os.environ.get("CI") and _skipped:
        terminalreporter.write_line(
            f"CI: {len(_skipped)} skipped test(s) count as failures: {', '.join(_skipped)}",
            red=True,
        )


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """A CLI test runs ``main()`` in-process, which configures root logging onto the captured
    stderr; put the root logger back so later tests do not log into a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


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


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The embedding model's ONNX export, where ``make install`` caches it; exported here through
    the same function if it is missing (from the packaged model: nothing is downloaded)."""
    from polystream_embeddings.encoder import default_source_dir
    from polystream_embeddings.export import export
    from polystream_embeddings.settings import EmbeddingSettings

    out = ROOT / EmbeddingSettings().model_dir
    export(default_source_dir(), out)  # returns at once when the export is there
    return out
