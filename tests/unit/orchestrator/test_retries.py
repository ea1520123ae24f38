"""The retry policy of the orchestrator's steps: a step that fails once with a transient error is
retried and succeeds, in-process on Dagster; a deterministic dbt failure is not retried."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestrator.lake import compaction_assets, lake_asset_key
from orchestrator.retries import is_transient_dbt_failure, retry_policy
from orchestrator.settings import OrchestratorSettings, RetrySettings
from polystream_lake.compaction import CompactionReport
from polystream_lake.layout import LakeLocation


def settings(tmp_path: object) -> OrchestratorSettings:
    return OrchestratorSettings(
        lake={"uri": str(tmp_path)},
        streams=("user_events",),
        retry=RetrySettings(max_retries=2, delay_s=0.01),
    )


def test_the_policy_backs_off_exponentially_with_jitter() -> None:
    policy = retry_policy(RetrySettings(max_retries=3, delay_s=30))
    assert policy.max_retries == 3
    assert policy.delay == 30
    assert policy.backoff == dg.Backoff.EXPONENTIAL
    assert policy.jitter == dg.Jitter.PLUS_MINUS


def test_a_step_that_fails_transiently_once_is_retried_and_succeeds(tmp_path: object) -> None:
    calls: list[str] = []

    def flaky_compact(lake: LakeLocation, stream: str) -> CompactionReport:
        calls.append(stream)
        if len(calls) == 1:
            raise OSError("the lake's filesystem is busy")
        return CompactionReport(directories=1, compactions=1, files_in=3, rows=30)

    asset = compaction_assets(settings(tmp_path), flaky_compact)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([asset], instance=instance, raise_on_error=False)

        assert result.success
        assert calls == ["user_events", "user_events"]
        assert result.retry_attempts_for_node("lake_compaction") == 1
        [materialization] = result.get_asset_materialization_events()
        assert materialization.asset_key == lake_asset_key("user_events")
        metadata = materialization.materialization.metadata
        assert metadata["rows_compacted"].value == 30


def test_a_step_that_keeps_failing_fails_after_its_retries(tmp_path: object) -> None:
    calls: list[str] = []

    def broken_compact(lake: LakeLocation, stream: str) -> CompactionReport:
        calls.append(stream)
        raise OSError("gone")

    asset = compaction_assets(settings(tmp_path), broken_compact)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([asset], instance=instance, raise_on_error=False)

    assert not result.success
    assert len(calls) == 3  # the first attempt and max_retries=2 more


@pytest.mark.parametrize(
    ("messages", "transient"),
    [
        (['model.x: IO Error: Could not set lock on file "w.duckdb": Conflicting lock'], True),
        (["model.x: IO Error: No such file or directory"], True),
        (["test.unique_fct_revenue_event_id: Got 3 results, configured to fail if != 0"], False),
        (['model.x: Binder Error: column "pricee" not found', "model.y: IO Error: x"], False),
        ([], False),
    ],
)
def test_only_transient_dbt_failures_are_retried(messages: list[str], transient: bool) -> None:
    assert is_transient_dbt_failure(messages) is transient
