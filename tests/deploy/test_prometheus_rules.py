"""The shipped Prometheus rules: promtool's checks and unit tests, and the mixin conventions."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.deploy.stack import DEPLOY, ROOT, RULES, require_binary

ALERTS = {
    "SyncdGoalBehindPace",
    "SyncdGoalAtRisk",
    "SyncdCheckpointMissed",
    "SyncdSourceDown",
    "SyncdSourceStale",
    "SyncdSourceRateLimited",
    "SyncdSourceGroupDegraded",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary("promtool"), *args], capture_output=True, text=True, timeout=60, check=False)


def alert_rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    assert f"SUCCESS: {sum(len(group['rules']) for group in groups)} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    # Run from the tests' folder: rule_files paths in the test file are relative to it.
    tests = DEPLOY / "prometheus" / "tests"
    for test_file in sorted(tests.glob("*.test.yml")):
        result = subprocess.run(
            [require_binary("promtool"), "test", "rules", test_file.name],
            cwd=tests,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


def test_promtool_accepts_the_compose_prometheus_config() -> None:
    result = promtool("check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_follows_the_mixin_conventions() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} == ALERTS
    runbooks = (ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8")
    headings = {h.strip().lower() for h in re.findall(r"^## (\w+)$", runbooks, re.MULTILINE)}
    for rule in rules:
        name = str(rule["alert"])
        labels, annotations = rule["labels"], rule["annotations"]
        assert isinstance(labels, dict)
        assert isinstance(annotations, dict)
        assert labels["severity"] in {"critical", "warning", "info"}, name
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        anchor = name.lower()
        assert annotations["runbook_url"].endswith(f"/docs/runbooks.md#{anchor}"), name
        assert anchor in headings, f"docs/runbooks.md has no section for {name}"


def test_source_alerts_carry_owner_and_team_and_goal_alerts_keep_theirs() -> None:
    for rule in alert_rules():
        labels = rule["labels"]
        assert isinstance(labels, dict)
        if str(rule["alert"]).startswith("SyncdSource"):
            assert labels["owner"] == "syncd-operators"
            assert labels["team"] == "operations"
        else:
            # Goal alerts take owner, team and source from the goal's series: never overwrite them.
            assert not {"owner", "team", "source"} & set(labels), rule["alert"]


def test_staleness_is_twice_the_interval_or_a_push_sources_expect_every() -> None:
    stale = next(r for r in alert_rules() if r["alert"] == "SyncdSourceStale")
    expr = " ".join(str(stale["expr"]).split())
    assert expr == (
        '( time() - max without (instance, pod) (syncd_source_last_success_timestamp_seconds{connector!="push"})'
        ' > 2 * max without (instance, pod) (syncd_source_interval_seconds{connector!="push"}) )'
        ' or ( time() - max without (instance, pod) (syncd_source_last_success_timestamp_seconds{connector="push"})'
        ' > max without (instance, pod) (syncd_source_interval_seconds{connector="push"}) )'
    )
