"""The alert rules (deploy/prometheus/rules/) are valid, each alert's unit test passes, and the
local stack's Prometheus config loads them: ``promtool`` from Debian's ``prometheus`` package,
which deploy/local/install.sh installs. No server is needed; a few seconds in all."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from string import Template

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "polystream.rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests" / "polystream.test.yml"
TEMPLATE = ROOT / "deploy" / "local" / "prometheus.yml.template"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: deploy/local/install.sh installs it (apt prometheus)")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def test_rules_are_valid(promtool: str) -> None:
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_passing_unit_test(promtool: str) -> None:
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")  # a test that only shows silence proves no firing
    }
    assert alerts - tested == set(), "alerts without a test that makes them fire"
    result = run(promtool, "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_where_it_stays_quiet() -> None:
    """Firing proves the rule sees what it should; a case with no alert (below the threshold,
    before its `for`, or on series that must not match) proves it does not fire on everything."""
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    quiet = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    assert alerts - quiet == set(), "alerts without a test where they stay quiet"


def test_alert_summaries_name_the_job_or_service_not_a_fixed_one() -> None:
    """Rules that match any job (every API, every relay) say which one fired."""
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            summary = rule["annotations"]["summary"]
            assert "recsys-api" not in summary and "shop-api" not in summary, rule["alert"]


def test_promtool_rejects_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.rules.yml"
    broken.write_text(RULES.read_text().replace("expr: up == 0", "expr: up == = 0"))
    result = run(promtool, "check", "rules", str(broken))
    assert result.returncode != 0
    assert "parse error" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("pattern", "replacement", "alert"),
    [
        # The DLQ rate from 1/s to 5/s.
        (
            r"(rate\(polystream_records_dlq_total\[5m\]\)\)) > 1\b",
            r"\1 > 5",
            "PolystreamDeadLettersHigh",
        ),
        # The outbox's 60 s to 600 s.
        (r"(polystream_outbox_oldest_age_seconds) > 60\b", r"\1 > 600", "PolystreamOutboxStuck"),
        # The lake compared with a fixed hour instead of its exported threshold.
        (
            r"> on\(stream\) group_left polystream_lake_freshness_threshold_seconds",
            "> 3600",
            "PolystreamLakeStale",
        ),
    ],
)
def test_the_unit_tests_pin_each_threshold(
    promtool: str, tmp_path: Path, pattern: str, replacement: str, alert: str
) -> None:
    """A threshold moved fails the unit tests."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    rules = RULES.read_text()
    moved = re.sub(pattern, replacement, rules)
    assert moved != rules
    (tmp_path / "rules" / RULES.name).write_text(moved)
    shutil.copy(RULE_TESTS, tmp_path / "tests" / RULE_TESTS.name)
    result = run(promtool, "test", "rules", str(tmp_path / "tests" / RULE_TESTS.name))
    assert result.returncode != 0
    assert alert in result.stdout + result.stderr


def test_the_local_stack_config_loads_the_rules(promtool: str, tmp_path: Path) -> None:
    """Rendered as `stack.sh up` renders it, one folder below the repository root (.stack/), the
    local Prometheus config names the rule files and every rule in them."""
    names = {m.group("braced") for m in Template.pattern.finditer(TEMPLATE.read_text())} - {None}
    (tmp_path / "deploy").symlink_to(ROOT / "deploy")
    (tmp_path / ".stack").mkdir()
    config = tmp_path / ".stack" / "prometheus.yml"
    config.write_text(Template(TEMPLATE.read_text()).substitute(dict.fromkeys(names, "9")))
    result = run(promtool, "check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    rules = sum(len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"])
    assert f"SUCCESS: {rules} rules found" in result.stdout + result.stderr
