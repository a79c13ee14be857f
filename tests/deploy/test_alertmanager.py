"""The shipped Alertmanager config: amtool's check, the routing table, and the inhibition."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from tests.deploy.stack import ALERTMANAGER_CONFIG, require_binary
from tests.processes import SYNCD, wait_until

ROOT = Path(__file__).resolve().parents[2]


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
        # The restatement of a member source's trouble under a joined label tells nobody.
        (
            "alertname=SyncdSourceGroupDegraded owner=syncd-operators team=operations source=x_a+x_b",
            "syncd-inhibit-only",
        ),
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
    assert rule["source_matchers"] == ['alertname=~"SyncdSourceDown|SyncdSourceStale|SyncdSourceGroupDegraded"']
    assert rule["target_matchers"] == ['alertname=~"SyncdGoal.+|SyncdCheckpoint.+"']
    assert rule["equal"] == ["source"]


def test_shipped_config_is_the_one_generated_from_the_example_people() -> None:
    from syncd.cli.alertmanager_routes import alertmanager_config
    from syncd.config import load_config

    config = load_config(ROOT / "config" / "example.yaml", unset_env=[])
    assert yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8")) == alertmanager_config(config)


def test_a_new_owner_is_reached_as_soon_as_they_are_in_the_configuration(tmp_path: Path) -> None:
    example = yaml.safe_load((ROOT / "config" / "example.yaml").read_text(encoding="utf-8"))
    example["people"]["dana"] = {"team": "growth"}
    example["teams"]["support"] = {"head": "erin"}
    example["people"]["erin"] = {"team": "support"}
    example["people"]["finn"] = {"team": "support"}
    config_file = tmp_path / "syncd.yaml"
    config_file.write_text(yaml.safe_dump(example), encoding="utf-8")
    generated = subprocess.run(
        [SYNCD, "alertmanager-routes", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))},
    )
    assert generated.returncode == 0, generated.stderr
    routes = tmp_path / "alertmanager.yml"
    routes.write_text(generated.stdout, encoding="utf-8")
    assert amtool("check-config", str(routes)).returncode == 0
    for labels, receivers in [
        ("alertname=SyncdGoalBehindPace owner=dana team=growth source=lemlist", "maya,dana"),
        ("alertname=SyncdGoalBehindPace owner=finn team=support source=kit", "erin,finn"),
        ("alertname=SyncdGoalBehindPace owner=erin team=support source=kit", "erin"),
        ("alertname=SyncdGoalBehindPace owner=alice team=growth source=lemlist", "maya,alice"),
    ]:
        result = amtool(
            "config", "routes", "test", f"--config.file={routes}", f"--verify.receivers={receivers}", *labels.split()
        )
        assert result.returncode == 0, labels + "\n" + result.stdout + result.stderr


def test_a_dead_member_source_inhibits_the_goal_alerts_of_a_kpi_over_several_sources(tmp_path: Path) -> None:
    """Real Alertmanager: the team's DMs sum three X sources; x_alice is down; nobody is paged about the goal."""
    from tests.deploy.stack import Stack, start_alertmanager

    stack = Stack(tmp_path)
    try:
        config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
        address = start_alertmanager(stack, config)
        joined = "x_alice+x_carol+x_dan"
        goal = {"kpi": "dms_sent", "owner": "recruiting", "team": "recruiting", "period": "2026-11"}
        alerts = [
            {"labels": {"alertname": "SyncdSourceDown", "source": "x_alice", "owner": "syncd-operators"}},
            {"labels": {"alertname": "SyncdSourceGroupDegraded", "source": joined, "owner": "syncd-operators"}},
            {"labels": {"alertname": "SyncdGoalBehindPace", "source": joined, **goal}},
            # A goal of another source group stays live: the inhibition is exact, not a blanket.
            {"labels": {"alertname": "SyncdGoalBehindPace", "source": "x_carol+x_dan", **goal, "kpi": "other"}},
        ]
        assert httpx.post(f"http://{address}/api/v2/alerts", json=alerts, timeout=5).status_code == 200

        def states() -> dict[tuple[str, str], str] | None:
            listed = httpx.get(f"http://{address}/api/v2/alerts", timeout=5).json()
            found = {(a["labels"]["alertname"], a["labels"]["source"]): a["status"]["state"] for a in listed}
            return found if len(found) == 4 else None

        found = wait_until(states, timeout=20, what="the four alerts")
        assert found[("SyncdGoalBehindPace", joined)] == "suppressed"
        assert found[("SyncdGoalBehindPace", "x_carol+x_dan")] == "active"
        assert found[("SyncdSourceDown", "x_alice")] == "active"
    finally:
        stack.stop_all()
