"""One full run now, in this process: ``python -m orchestrator build``.

The ``nightly`` job (compaction, then ``dbt build``; retries as scheduled), then the
``freshness`` job. The outcome fails when a step failed or a check of ERROR severity (a dbt
test) did; a stale source or mart (WARN) is reported, and alerted on through the metrics, but
does not fail the build.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from orchestrator.definitions import FRESHNESS_JOB, NIGHTLY_JOB


@dataclass
class BuildOutcome:
    """What one ``build`` did: the run ids, what was materialised, the checks' verdicts."""

    run_ids: list[str] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)
    """Checks of ERROR severity that failed: the build fails."""
    warnings: list[str] = field(default_factory=list)
    """Checks of WARN severity that failed (stale data): reported, the build still succeeds."""

    @property
    def success(self) -> bool:
        return not self.failed_steps and not self.checks_failed

    def add(self, result: dg.ExecuteInProcessResult) -> None:
        self.run_ids.append(result.run_id)
        self.materialized += sorted(
            event.asset_key.to_user_string()
            for event in result.get_asset_materialization_events()
            if event.asset_key is not None
        )
        self.failed_steps += result.get_failed_step_keys()
        for evaluation in result.get_asset_check_evaluations():
            name = evaluation.asset_check_key.to_user_string()
            if evaluation.passed:
                self.checks_passed.append(name)
            elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                self.warnings.append(name)
            else:
                self.checks_failed.append(name)


def run_build(defs: dg.Definitions, instance: dg.DagsterInstance) -> BuildOutcome:
    """Run the nightly job, then every freshness check, on ``instance``."""
    outcome = BuildOutcome()
    for job_name in (NIGHTLY_JOB, FRESHNESS_JOB):
        job = defs.resolve_job_def(job_name)
        outcome.add(job.execute_in_process(instance=instance, raise_on_error=False))
    return outcome
