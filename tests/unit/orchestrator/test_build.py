"""What ``python -m orchestrator build`` calls a failure: a failed step or a failed ERROR check
(a dbt test) fails the build; a failed WARN check (stale data) is reported and does not."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from orchestrator.build import run_build
from orchestrator.definitions import FRESHNESS_JOB, NIGHTLY_JOB


def definitions(*, step_fails: bool, test_fails: bool) -> dg.Definitions:
    @dg.asset(check_specs=[dg.AssetCheckSpec("unique_event_id", asset="fct_revenue")])
    def fct_revenue() -> Iterator[dg.AssetCheckResult | dg.Output[int]]:
        if step_fails:
            raise dg.Failure("dbt build failed", allow_retries=False)
        yield dg.Output(1)
        yield dg.AssetCheckResult(passed=not test_fails)

    @dg.asset_check(asset=fct_revenue)
    def fresh() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)

    return dg.Definitions(
        assets=[fct_revenue],
        asset_checks=[fresh],
        jobs=[
            dg.define_asset_job(
                NIGHTLY_JOB,
                selection=dg.AssetSelection.assets(fct_revenue) - dg.AssetSelection.checks(fresh),
            ),
            dg.define_asset_job(FRESHNESS_JOB, selection=dg.AssetSelection.checks(fresh)),
        ],
    )


def test_a_stale_warning_does_not_fail_the_build() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_build(definitions(step_fails=False, test_fails=False), instance)
    assert outcome.success
    assert outcome.materialized == ["fct_revenue"]
    assert outcome.checks_passed == ["fct_revenue:unique_event_id"]
    assert outcome.warnings == ["fct_revenue:fresh"]


def test_a_failed_test_fails_the_build() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_build(definitions(step_fails=False, test_fails=True), instance)
    assert not outcome.success
    assert outcome.checks_failed == ["fct_revenue:unique_event_id"]


def test_a_failed_step_fails_the_build() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_build(definitions(step_fails=True, test_fails=False), instance)
    assert not outcome.success
    assert outcome.failed_steps == ["fct_revenue"]
    assert outcome.materialized == []
