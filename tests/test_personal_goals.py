"""Personal goals: a person's own reason, shown with their goals, on /metrics and in their alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from syncd.config import parse_config
from syncd.engine.snapshot import Snapshot, SnapshotHolder, personal_goals_of
from syncd.errors import ConfigError
from syncd.serve.exposition import build_registry
from syncd.serve.status_page import render_status_page
from tests.fakes import make_config

CONFIG = """
teams: {recruiting: {head: sam}}
people:
  sam: {team: recruiting}
  carol:
    team: recruiting
    identities: {lemlist: carol@acme.io}
    personal_goals:
      - text: "Family holiday in June <when> the Q2 bonus is hit"
        by: 2027-06-01
        kpis: [emails]
      - text: Run a half marathon
sources:
  lemlist: {connector: lemlist, api_key: "${LEMLIST_API_KEY}"}
kpis:
  emails: {source: lemlist, metric: emails_sent, per_person: true}
"""


def test_personal_goals_reach_the_metric_and_the_page_escaped():
    config = make_config(CONFIG)
    snapshot = Snapshot(generated_at=datetime(2026, 11, 20, tzinfo=UTC), personal_goals=personal_goals_of(config))
    text = generate_latest(build_registry(SnapshotHolder(snapshot))).decode()
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "syncd_personal_goal_info"]
    labels = [sample.labels for sample in family.samples]
    assert labels == [
        {"owner": "carol", "team": "recruiting", "goal": "Family holiday in June <when> the Q2 bonus is hit",
         "by": "2027-06-01", "kpis": "emails"},
        {"owner": "carol", "team": "recruiting", "goal": "Run a half marathon", "by": "", "kpis": ""},
    ]  # fmt: skip
    page = render_status_page(snapshot)
    assert "Family holiday in June &lt;when&gt; the Q2 bonus is hit" in page
    assert "(by 2027-06-01)" in page


def test_a_personal_goal_on_an_unknown_kpi_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.replace("kpis: [emails]", "kpis: [nope]"), environ={"LEMLIST_API_KEY": "k"})
    assert "people.carol.personal_goals[0].kpis: unknown KPI 'nope'" in str(caught.value.problems[0])
