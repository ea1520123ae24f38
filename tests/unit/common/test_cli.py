"""The shared command-line pieces, and the service CLIs built on them: no server is reached."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest
import typer
from typer.testing import CliRunner

from embedder import main as embedder_main
from embedder.main import app as embedder_app
from embedder.settings import EmbedderSettings
from event_consumer import main as event_main
from event_consumer.main import app as event_app
from event_consumer.settings import EventConsumerSettings
from polystream_common.cli import Since, Until, consumer_app, print_json, time_window, timestamp
from sensor_consumer import main as sensor_main
from sensor_consumer.main import app as sensor_app
from sensor_consumer.settings import SensorConsumerSettings

runner = CliRunner()


def test_a_time_without_offset_is_utc_and_one_with_an_offset_keeps_it() -> None:
    assert timestamp("2026-03-01T12:00") == datetime(2026, 3, 1, 12, tzinfo=UTC)
    paris = timestamp("2026-03-01T12:00+01:00")
    assert paris.utcoffset() == timedelta(hours=1)
    assert paris == datetime(2026, 3, 1, 11, tzinfo=UTC)


def test_a_window_defaults_to_one_span_ending_now() -> None:
    before = datetime.now(UTC)
    since, until = time_window(None, None, timedelta(days=1))
    assert before <= until <= datetime.now(UTC) and until - since == timedelta(days=1)
    end = datetime(2026, 3, 8, tzinfo=UTC)
    assert time_window(None, end, timedelta(days=7)) == (end - timedelta(days=7), end)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    assert time_window(start, end, timedelta(days=1)) == (start, end)


@dataclass(frozen=True)
class Row:
    event_id: uuid.UUID
    event_time: datetime
    value: float


def test_json_output_writes_dataclasses_times_and_ids(capsys: pytest.CaptureFixture[str]) -> None:
    event_id = uuid.uuid4()
    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    print_json([Row(event_id, when, 1.5), {"day": when}])
    assert json.loads(capsys.readouterr().out) == [
        {"event_id": str(event_id), "event_time": "2026-03-01T12:00:00+00:00", "value": 1.5},
        {"day": "2026-03-01T12:00:00+00:00"},
    ]


def test_a_consumer_app_runs_the_consumer_with_no_command_or_with_run() -> None:
    runs: list[str] = []
    app = consumer_app("a service", lambda: runs.append("ran"), run_help="consume")
    seen: list[object] = []

    @app.command()
    def window(since: Since = None, until: Until = None) -> None:
        seen.append((since, until))

    assert runner.invoke(app, []).exit_code == 0
    assert runner.invoke(app, ["run"]).exit_code == 0
    assert runs == ["ran", "ran"]
    result = runner.invoke(app, ["window", "--since", "2026-03-01", "--until", "2026-03-02"])
    assert result.exit_code == 0 and runs == ["ran", "ran"]
    assert seen == [(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))]


def test_a_time_that_is_not_iso_8601_is_a_usage_error() -> None:
    app = consumer_app("a service", lambda: None, run_help="consume")

    @app.command()
    def window(since: Since = None) -> None:
        pass

    result = runner.invoke(app, ["window", "--since", "yesterday"])
    assert result.exit_code == 2 and "ISO 8601" in result.output


@pytest.mark.parametrize(
    ("app", "argv"),
    [
        (sensor_app, ["analytics", "moving-average"]),  # needs --sensor
        (sensor_app, ["analytics", "stats", "--since", "soon"]),
        (sensor_app, ["analytics", "nothing"]),
        (event_app, ["analytics", "recent-activity"]),  # needs --user
        (event_app, ["analytics", "funnel", "--by", "week"]),
        (embedder_app, ["search"]),  # needs a query
        (embedder_app, ["search", "running shoes", "--limit", "0"]),
        (embedder_app, ["similar-users"]),  # needs a user
    ],
)
def test_the_consumers_refuse_bad_usage_before_connecting(
    app: typer.Typer, argv: list[str]
) -> None:
    assert runner.invoke(app, argv).exit_code == 2


def test_the_consumers_list_their_commands() -> None:
    sensor = runner.invoke(sensor_app, ["--help"]).output
    assert all(command in sensor for command in ("run", "migrate", "analytics"))
    queries = runner.invoke(sensor_app, ["analytics", "--help"]).output
    assert all(q in queries for q in ("stats", "moving-average", "anomalies"))
    queries = runner.invoke(event_app, ["analytics", "--help"]).output
    assert all(
        q in queries for q in ("events-per-day", "funnel", "top-products", "recent-activity")
    )
    embedder = runner.invoke(embedder_app, ["--help"]).output
    assert all(c in embedder for c in ("run", "search", "similar-products", "similar-users"))


@pytest.mark.parametrize(
    ("module", "settings"),
    [
        (sensor_main, SensorConsumerSettings),
        (event_main, EventConsumerSettings),
        (embedder_main, EmbedderSettings),
    ],
)
@pytest.mark.parametrize("argv", [[], ["run"]])
def test_a_consumer_service_runs_its_consumer_by_default(
    module: ModuleType, settings: type, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(module, "consumer_main", lambda *wiring: started.append(wiring))
    with pytest.raises(SystemExit) as exited:
        module.main(argv)
    assert exited.value.code == 0
    assert started == [(settings, module.bootstrap)]
