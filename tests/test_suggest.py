"""`syncd suggest`: an owner's last periods and a goal proposed from them (committed + stretch)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml
from click.testing import CliRunner

from syncd.cli import main
from syncd.engine.periods import custom_period
from syncd.engine.suggest import PastPeriod, past_period, suggest
from syncd.model import Kpi

KPI = Kpi(name="emails", source="lemlist", metric="emails_sent", per_person=True)
SEPTEMBER = custom_period(date(2026, 9, 1), date(2026, 9, 30))
OCTOBER = custom_period(date(2026, 10, 1), date(2026, 10, 31))
NOVEMBER = custom_period(date(2026, 11, 1), date(2026, 11, 30))
DECEMBER = custom_period(date(2026, 12, 1), date(2026, 12, 31))


def test_the_proposal_is_the_median_recent_period_per_day_scaled_to_the_planned_length():
    past = [
        PastPeriod(SEPTEMBER, 300.0, None, None, None),  # 10 a day
        PastPeriod(OCTOBER, 620.0, None, None, None),  # 20 a day: an outlier month
        PastPeriod(NOVEMBER, 360.0, None, None, None),  # 12 a day
    ]
    proposal = suggest(past, DECEMBER, stretch=0.3)
    assert proposal.committed == pytest.approx(12 * 31)
    assert proposal.target == pytest.approx(12 * 31 * 1.3)


def test_periods_never_synced_are_no_data_not_zero():
    by_subject = {"alice@acme.io": {date(2026, 10, 5): 50.0}}
    subjects = frozenset({"alice@acme.io"})
    options = {"target": 100.0, "checkins": "week", "week_start": 0}
    never = past_period(KPI, by_subject, subjects, SEPTEMBER, **options)  # type: ignore[arg-type]
    october = past_period(KPI, by_subject, subjects, OCTOBER, **options)  # type: ignore[arg-type]
    assert never.achieved is None
    assert october.achieved == 50
    # Week 2026-10-05..11 (7 of 31 days) needs 100 × 7/31 ≈ 22.6: hit; the other four weeks missed.
    assert (october.checkins_hit, october.checkins_total) == (1, 5)
    assert suggest([never, october], NOVEMBER, stretch=0.3).committed == pytest.approx(50 / 31 * 30)
    assert suggest([never], NOVEMBER, stretch=0.3).committed is None


CONFIG = """
timezone: UTC
people: {alice: {identities: {calls: alice}}}
sources: {calls: {connector: push, token: "0123456789abcdef0123456789abcdef"}}
kpis: {calls_held: {source: calls, metric: calls, per_person: true}}
goals: [{kpi: calls_held, owner: alice, period: month, target: 40}]
"""


def test_suggest_command_prints_a_goal_that_loads(tmp_path):
    path = tmp_path / "syncd.yaml"
    path.write_text(CONFIG + f"database_url: sqlite:///{tmp_path / 'db.sqlite'}\n", encoding="utf-8")
    runner = CliRunner()
    day = date(2026, 10, 1)
    for offset in range(31):  # one call a day in October
        recorded = runner.invoke(
            main,
            ["record", "--config", str(path), "--source", "calls", "--metric", "calls", "--subject", "alice",
             "--value", "1", "--day", (day + timedelta(days=offset)).isoformat()],
        )  # fmt: skip
        assert recorded.exit_code == 0, recorded.output
    result = runner.invoke(
        main, ["suggest", "--kpi", "calls_held", "--owner", "alice", "--config", str(path), "--as-of", "2026-11-20"]
    )
    assert result.exit_code == 0, result.output
    assert "Proposed for 2026-12: committed 31" in result.output
    snippet = yaml.safe_load(result.output.split("As a goal (paste into the configuration):\n", 1)[1])
    assert snippet["goals"] == [
        {"kpi": "calls_held", "owner": "alice", "period": "month", "committed": 31, "stretch": 0.3}
    ]
    bad = runner.invoke(main, ["suggest", "--kpi", "nope", "--owner", "alice", "--config", str(path)])
    assert bad.exit_code == 2
    assert "unknown KPI 'nope'" in bad.output
