"""KPIs over several sources (CONTRACT §7): a recruiting team whose DMs come from one X token each."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from syncd.config import parse_config
from syncd.engine.evaluate import counts_needed, evaluate_goal
from syncd.engine.funnels import evaluate_funnels
from syncd.errors import ConfigError
from syncd.run.sync import first_window_start
from tests.fakes import make_config as _make_config

ENV = {"X_ALICE": "a", "X_CAROL": "c", "X_DAN": "d", "CALLS_TOKEN": "t" * 32}


def make_config(text: str):
    return _make_config(text, **ENV)


CONFIG = """
timezone: UTC
teams: {recruiting: {head: sam}}
people:
  sam: {team: recruiting}
  alice: {team: recruiting, identities: {x_alice: "101", calls: alice@acme.io}}
  carol: {team: recruiting, identities: {x_carol: "103", calls: carol@acme.io}}
  dan: {team: recruiting, identities: {x_dan: "104"}}
sources:
  x_alice: {connector: x, api_key: "${X_ALICE}"}
  x_carol: {connector: x, api_key: "${X_CAROL}"}
  x_dan: {connector: x, api_key: "${X_DAN}"}
  calls: {connector: push, token: "${CALLS_TOKEN}"}
  kit: {connector: kit, api_key: "${X_DAN}"}
kpis:
  dms_sent: {source: [x_alice, x_carol, x_dan], metric: dms_sent, per_person: true}
  all_dms: {source: [x_alice, x_carol, x_dan], metric: dms_sent}
  calls_held: {source: calls, metric: calls, per_person: true}
goals:
  - {kpi: dms_sent, owner: recruiting, period: month, target: 300}
  - {kpi: dms_sent, owner: carol, period: month, target: 100}
  - {kpi: all_dms, owner: recruiting, period: month, target: 400}
  - {kpi: dms_sent, owner: dan, period: month, target: 50}
funnels:
  recruiting: {steps: [dms_sent, calls_held], period: month, min_volume: 1}
"""

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def counts() -> dict[tuple[str, str], dict[str, dict[date, float]]]:
    return {
        ("x_alice", "dms_sent"): {"101": {date(2026, 11, 2): 10.0, date(2026, 11, 3): 5.0}},
        # "101" in carol's account is someone else (ids are per token): it must not count for alice.
        ("x_carol", "dms_sent"): {"103": {date(2026, 11, 2): 20.0}, "101": {date(2026, 11, 4): 7.0}},
        ("x_dan", "dms_sent"): {"104": {date(2026, 11, 5): 3.0}},
        ("calls", "calls"): {"alice@acme.io": {date(2026, 11, 6): 3.0}, "carol@acme.io": {date(2026, 11, 6): 2.0}},
    }


def goal(config, kpi: str, owner: str):
    return next(g for g in config.goals if g.kpi == kpi and g.owner == owner)


def test_the_source_label_joins_the_sources_in_configuration_order():
    config = make_config(CONFIG)
    kpi = config.kpis["dms_sent"]
    assert kpi.source == "x_alice+x_carol+x_dan"
    assert kpi.sources == ("x_alice", "x_carol", "x_dan")
    assert kpi.count_keys == (("x_alice", "dms_sent"), ("x_carol", "dms_sent"), ("x_dan", "dms_sent"))
    status = evaluate_goal(config, goal(config, "dms_sent", "carol"), counts(), AT)
    assert status.source == "x_alice+x_carol+x_dan"


def test_team_goal_is_the_sum_of_its_members_across_sources():
    config = make_config(CONFIG)
    team = evaluate_goal(config, goal(config, "dms_sent", "recruiting"), counts(), AT)
    members = [evaluate_goal(config, goal(config, "dms_sent", p), counts(), AT).value for p in ("carol", "dan")]
    alice = 15.0  # her own token only: the "101" of carol's account is not her
    assert team.value == 15 + 20 + 3
    assert team.value == alice + sum(members)


def test_a_person_counts_only_in_the_sources_that_hold_their_identity():
    config = make_config(CONFIG)
    assert evaluate_goal(config, goal(config, "dms_sent", "carol"), counts(), AT).value == 20
    assert evaluate_goal(config, goal(config, "dms_sent", "dan"), counts(), AT).value == 3


def test_a_kpi_that_is_not_per_person_sums_every_subject_of_every_source():
    config = make_config(CONFIG)
    assert evaluate_goal(config, goal(config, "all_dms", "recruiting"), counts(), AT).value == 15 + 27 + 3


def test_counts_needed_and_first_window_cover_every_source():
    config = make_config(CONFIG)
    needed = counts_needed(config, AT)
    assert {("x_alice", "dms_sent"), ("x_carol", "dms_sent"), ("x_dan", "dms_sent")} <= set(needed.keys)
    assert first_window_start(config, config.sources["x_dan"], AT) == date(2026, 11, 1)


def test_funnel_owners_and_values_across_sources():
    config = make_config(CONFIG)
    stages = {stage.owner: stage for stage in evaluate_funnels(config, counts(), AT)}
    assert (stages["alice"].from_value, stages["alice"].to_value) == (15, 3)
    assert (stages["carol"].from_value, stages["carol"].to_value) == (20, 2)


@pytest.mark.parametrize(
    ("kpi", "message"),
    [
        ("{source: [x_alice, nowhere], metric: dms_sent}", "kpis.k.source[1]: unknown source 'nowhere'"),
        ("{source: [x_alice, kit], metric: dms_sent}", "kpis.k.metric: connector 'kit' (source kit) has no metric"),
        ("{source: [x_alice, x_alice], metric: dms_sent}", "kpis.k.source: a source is listed twice"),
        ("{source: [], metric: dms_sent}", "kpis.k.source: name at least one source"),
    ],
)
def test_bad_source_lists_are_one_clear_line(kpi: str, message: str):
    text = CONFIG.replace("kpis:\n", f"kpis:\n  k: {kpi}\n", 1)
    env = {"X_ALICE": "a", "X_CAROL": "c", "X_DAN": "d", "CALLS_TOKEN": "t" * 32}
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file="syncd.yaml", environ=env)
    assert any(message in str(p) for p in caught.value.problems), caught.value.problems


def test_the_kpis_reading_a_source_are_those_listing_it_in_configuration_order() -> None:
    config = make_config(CONFIG)
    assert [kpi.name for kpi in config.kpis_reading("x_carol")] == ["dms_sent", "all_dms"]
    assert [kpi.name for kpi in config.kpis_reading("calls")] == ["calls_held"]
    assert config.kpis_reading("kit") == ()
    for source in config.sources:
        expected = [kpi for kpi in config.kpis.values() if kpi.reads(source)]
        assert list(config.kpis_reading(source)) == expected
