"""Funnels as managers run them: the domino step, the what-if outcomes and next period's plan."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import yaml
from click.testing import CliRunner
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from syncd.cli import main
from syncd.config import parse_config
from syncd.engine.funnel_outcomes import outcomes_of
from syncd.engine.funnels import evaluate_funnels
from syncd.engine.periods import custom_period
from syncd.engine.planning import plan_funnel
from syncd.engine.snapshot import Snapshot, SnapshotHolder, funnels_json
from syncd.errors import ConfigError
from syncd.serve.exposition import build_registry
from tests.fakes import make_config

CONFIG = """
timezone: UTC
teams: {recruiting: {head: sam}}
people:
  sam: {team: recruiting}
  alice: {team: recruiting, identities: {x: "101", calls: alice}}
  carol: {team: recruiting, identities: {x: "103", calls: carol}}
sources:
  x: {connector: x, api_key: "${LEMLIST_API_KEY}"}
  calls: {connector: push, token: "0123456789abcdef0123456789abcdef"}
kpis:
  dms: {source: x, metric: dms_sent, per_person: true}
  prequal: {source: calls, metric: prequal, per_person: true}
  interviews: {source: calls, metric: interviews, per_person: true}
funnels:
  recruiting: {steps: [dms, prequal, interviews], period: month, min_volume: 10, domino: prequal, uplift: 0.2}
"""

AT = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # half of November (30 days) gone


def counts():
    day = date(2026, 11, 2)
    return {
        ("x", "dms_sent"): {"101": {day: 100.0}, "103": {day: 50.0}},
        ("calls", "prequal"): {"alice": {day: 10.0}, "carol": {day: 10.0}},
        ("calls", "interviews"): {"alice": {day: 2.0}, "carol": {day: 5.0}},
    }


def test_outcomes_per_owner_and_team_hand_computed():
    config = make_config(CONFIG)
    stages = evaluate_funnels(config, counts(), AT)
    outcomes = {o.owner: o for o in outcomes_of(config, stages)}
    alice, carol, team = outcomes["alice"], outcomes["carol"], outcomes["recruiting"]
    assert alice.domino == "prequal"
    assert alice.current == 2
    assert alice.domino_uplift == pytest.approx(2 * 1.2)
    assert alice.ratio_uplift == pytest.approx(2 * 1.2**2)
    # Benchmarks: dms->prequal best is carol 10/50 = 0.2; prequal->interviews best is carol 0.5.
    assert alice.benchmark == pytest.approx(100 * 0.2 * 0.5)
    assert carol.benchmark == pytest.approx(50 * 0.2 * 0.5)
    assert team.current == 7
    assert team.benchmark == pytest.approx(10 + 5)


def test_plan_projects_the_domino_and_derives_the_other_steps():
    config = make_config(CONFIG)
    funnel = config.funnels["recruiting"]
    stages = evaluate_funnels(config, counts(), AT)
    november, december = (
        custom_period(date(2026, 11, 1), date(2026, 11, 30)),
        custom_period(date(2026, 12, 1), date(2026, 12, 31)),
    )
    plans = plan_funnel(funnel, stages, elapsed=0.5, current=november, planned=december, uplift=0.1)
    alice = {p.step: p for p in plans if p.owner == "alice"}
    # prequal: 10 so far, 20 projected, × 31/30 days, × 1.1.
    assert alice["prequal"].target == pytest.approx(20 * 31 / 30 * 1.1)
    # interviews follow at alice's own 2/10; dms are what feeds prequal at her 10/100.
    assert alice["interviews"].target == pytest.approx(20 * 31 / 30 * 1.1 * 0.2)
    assert alice["dms"].target == pytest.approx(20 * 31 / 30 * 1.1 / 0.1)
    assert alice["dms"].so_far == 100
    assert alice["dms"].projected == 200


def test_outcomes_reach_metrics_and_the_api():
    config = make_config(CONFIG)
    stages = evaluate_funnels(config, counts(), AT)
    snapshot = Snapshot(generated_at=AT, funnels=stages, funnel_outcomes=outcomes_of(config, stages))
    text = generate_latest(build_registry(SnapshotHolder(snapshot))).decode()
    samples = {
        (s.labels["owner"], s.labels["scenario"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "syncd_funnel_outcome"
        for s in family.samples
    }
    assert samples[("carol", "ratio_uplift")] == pytest.approx(5 * 1.2**2)
    assert samples[("recruiting", "current")] == 7
    assert len(samples) == 3 * 4
    (funnel,) = funnels_json(snapshot)
    assert funnel["domino"] == "prequal"
    assert {o["owner"]: o["benchmark"] for o in funnel["outcomes"]} == {"alice": 10.0, "carol": 5.0, "recruiting": 15.0}


def test_domino_must_be_a_step():
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.replace("domino: prequal", "domino: nope"), environ={"LEMLIST_API_KEY": "k"})
    assert "funnels.recruiting.domino: 'nope' is not one of the funnel's steps" in str(caught.value.problems[0])


def test_the_domino_defaults_to_the_first_step():
    config = make_config(CONFIG.replace(", domino: prequal", ""))
    assert config.funnels["recruiting"].domino == "dms"


def test_plan_command_prints_goals_that_load(tmp_path):
    path = tmp_path / "syncd.yaml"
    path.write_text(CONFIG + f"database_url: sqlite:///{tmp_path / 'db.sqlite'}\n", encoding="utf-8")
    runner = CliRunner()
    env = {"LEMLIST_API_KEY": "k"}
    for metric, subject, value in (("prequal", "alice", "10"), ("interviews", "alice", "2")):
        recorded = runner.invoke(
            main,
            ["record", "--config", str(path), "--source", "calls", "--metric", metric, "--subject", subject,
             "--value", value, "--day", "2026-11-02"],
            env=env,
        )  # fmt: skip
        assert recorded.exit_code == 0, recorded.output
    result = runner.invoke(
        main,
        ["plan", "recruiting", "--next-period", "--config", str(path), "--as-of", "2026-11-16T00:00:00Z"],
        env={**env, "COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    assert "period 2026-12" in result.output
    snippet = result.output.split("As goals (paste into the configuration):\n", 1)[1]
    # One goal a line whatever the terminal's width: a goal wrapped at 80 columns pastes badly.
    assert all(line.startswith("  - {") and line.endswith("}") for line in snippet.splitlines()[1:]), snippet
    goals = yaml.safe_load(snippet)["goals"]
    assert {"kpi": "prequal", "owner": "alice", "period": {"start": date(2026, 12, 1), "end": date(2026, 12, 31)},
            "target": round(20 * 31 / 30 * 1.1)} in goals  # fmt: skip
    assert runner.invoke(main, ["plan", "nope", "--config", str(path)], env=env).exit_code == 2
