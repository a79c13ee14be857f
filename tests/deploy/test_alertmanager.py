"""The shipped Alertmanager config: amtool's check, the routing table, and the inhibition."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.deploy.stack import ALERTMANAGER_CONFIG, require_binary


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary("amtool"), *args], capture_output=True, text=True, timeout=60, check=False)


def test_amtool_accepts_the_config() -> None:
    result = amtool("check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        # The owner hears about their own goal, the team head about the team.
        ("alertname=SyncdGoalBehindPace owner=bob team=growth source=lemlist", "maya,bob"),
        ("alertname=SyncdGoalAtRisk owner=alice team=growth source=lemlist", "maya,alice"),
        ("alertname=SyncdCheckpointMissed owner=carol team=recruiting source=x", "sam,carol"),
        # A team-owned goal (owner = the team) and the head's own goal reach the head once.
        ("alertname=SyncdGoalBehindPace owner=growth team=growth source=lemlist", "maya"),
        ("alertname=SyncdGoalBehindPace owner=maya team=growth source=kit", "maya"),
        # Sources are the operators'; anything unknown falls back to them.
        ("alertname=SyncdSourceStale owner=syncd-operators team=operations source=lemlist", "syncd-operators"),
        ("alertname=SyncdSourceDown owner=syncd-operators team=operations source=kit", "syncd-operators"),
        ("alertname=SyncdGoalBehindPace owner=zed team=unknown source=kit", "syncd-operators"),
    ],
)
def test_routes(labels: str, receivers: str) -> None:
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        f"--verify.receivers={receivers}",
        *labels.split(),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_source_trouble_inhibits_the_goal_alerts_of_that_source() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    (rule,) = config["inhibit_rules"]
    assert rule["source_matchers"] == ['alertname=~"SyncdSourceDown|SyncdSourceStale"']
    assert rule["target_matchers"] == ['alertname=~"SyncdGoal.+|SyncdCheckpoint.+"']
    assert rule["equal"] == ["source"]
