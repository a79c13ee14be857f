"""Goal figures from daily counts, hand-computed (CONTRACT §4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from syncd.engine.evaluate import counts_needed, evaluate_goal, evaluate_goals
from syncd.engine.forecast_bridge import remaining_weight
from syncd.engine.pace import Linear, day_clock, day_weights, period_weight
from syncd.engine.periods import period_containing
from tests.fakes import make_config

CONFIG = """
timezone: Europe/London
holidays: [2026-11-11]
teams: {growth: {head: maya}}
people:
  maya: {team: growth}
  alice: {team: growth, identities: {lemlist: alice@acme.io}}
  bob: {team: growth, identities: {lemlist: bob@acme.io}}
sources:
  lemlist: {connector: lemlist, api_key: "${LEMLIST_API_KEY}"}
  kit: {connector: kit, api_key: "${KIT_API_KEY}"}
kpis:
  emails: {source: lemlist, metric: emails_sent, per_person: true}
  list_size: {source: kit, metric: new_subscribers, kind: stock}
goals:
  - {kpi: emails, owner: alice, period: month, target: 400, pacing: business_days, checkins: week}
  - {kpi: emails, owner: growth, period: month, target: 500}
  - {kpi: list_size, owner: maya, period: month, target: 1300, baseline: 1000}
"""

# November 2026 starts on a Sunday: 21 weekdays, 20 business days without the holiday on the 11th.
BUSINESS_DAYS_BEFORE_23RD = [2, 3, 4, 5, 6, 9, 10, 12, 13, 16, 17, 18, 19, 20]
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday noon; London is on UTC in November


def counts() -> dict[tuple[str, str], dict[str, dict[date, float]]]:
    alice = {date(2026, 11, d): 10.0 for d in BUSINESS_DAYS_BEFORE_23RD}
    alice[date(2026, 11, 23)] = 4.0  # today counts
    alice[date(2026, 11, 11)] = 3.0  # work on a holiday still counts
    alice[date(2026, 10, 31)] = 5.0  # last month does not
    alice[date(2026, 11, 24)] = 99.0  # a day after the instant does not
    bob = {date(2026, 11, d): 2.0 for d in BUSINESS_DAYS_BEFORE_23RD}
    return {
        ("lemlist", "emails_sent"): {
            "alice@acme.io": alice,
            "ALICE@ACME.IO": {date(2026, 11, 3): 5.0},  # vendors disagree on case; one person
            "bob@acme.io": bob,
            "eve@acme.io": {date(2026, 11, 3): 1000.0},  # nobody's identity
        },
        ("kit", "new_subscribers"): {"all": {date(2026, 10, 20): 1050.0, date(2026, 11, 20): 1120.0}},
    }


def test_person_goal_business_days_hand_computed():
    config = make_config(CONFIG)
    status = evaluate_goal(config, config.goals[0], counts(), AT)
    # value = 14 × 10 + 4 + 3 + 5 = 152; E = (14 + 1 × 0.5) / 20 = 0.725
    assert status.value == 152
    assert status.figures.elapsed_ratio == pytest.approx(0.725, abs=1e-15)
    assert status.figures.expected == pytest.approx(290.0)  # 400 × 0.725
    assert status.figures.pace_ratio == pytest.approx(152 / 290)
    assert status.figures.projected == pytest.approx(152 / 0.725)
    assert status.figures.required_daily_rate == pytest.approx(248 / (20 * 0.275))  # (400 − 152) / (W(1 − E))
    assert status.figures.buffer_days == pytest.approx(-6.9)  # (152 − 290) / (400 / 20)
    assert status.figures.progress_ratio == pytest.approx(0.38)
    assert status.status == "behind"
    # About 10 a working day with 5.5 working days left cannot make up the 248 missing.
    assert status.hit_probability is not None
    assert 0.0 <= status.hit_probability < 0.001
    assert (status.period, status.team, status.source) == ("2026-11", "growth", "lemlist")
    assert status.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert status.deadline == datetime(2026, 12, 1, tzinfo=UTC)
    # Week check-in 2026-W48 (Mon 23 .. Sun 29): 5 of the 20 business days, value so far 4.
    assert status.checkpoint is not None
    assert (status.checkpoint.id, status.checkpoint.target, status.checkpoint.value) == ("2026-W48", 100.0, 4.0)


def test_team_goal_sums_its_members_linear():
    config = make_config(CONFIG)
    status = evaluate_goal(config, config.goals[1], counts(), AT)
    # alice 152 + bob 14 × 2 = 180; linear E = (22 + 0.5) / 30 = 0.75
    assert status.value == 180
    assert status.figures.elapsed_ratio == pytest.approx(0.75)
    assert status.figures.expected == pytest.approx(375.0)
    assert status.status == "behind"  # 180 / 375 = 0.48
    assert status.team == "growth"
    # The same history with a target already within reach is near certain.
    easy = evaluate_goal(config, replace(config.goals[1], target=190), counts(), AT)
    assert easy.hit_probability is not None
    assert easy.hit_probability > 0.95


def test_stock_goal_uses_latest_level_and_baseline():
    config = make_config(CONFIG)
    status = evaluate_goal(config, config.goals[2], counts(), AT)
    # latest level on or before the 23rd: 1120; expected = 1000 + (1300 − 1000) × 0.75 = 1225
    assert status.value == 1120
    assert status.figures.expected == pytest.approx(1225.0)
    assert status.figures.pace_ratio == pytest.approx(1120 / 1225)
    assert status.hit_probability is None


def test_at_most_stock_goal():
    config = make_config(
        CONFIG.replace(
            "{kpi: list_size, owner: maya, period: month, target: 1300, baseline: 1000}",
            "{kpi: list_size, owner: maya, period: month, target: 1000, baseline: 1200, direction: at_most}",
        )
    )
    status = evaluate_goal(config, config.goals[2], counts(), AT)
    # expected = 1200 + (1000 − 1200) × 0.75 = 1050; 1120 / 1050 = 1.0667 is within the band
    assert status.figures.expected == pytest.approx(1050.0)
    assert status.status == "on_pace"
    assert status.figures.required_daily_rate == pytest.approx(120 / (30 * 0.25))  # down by 120 in 7.5 days
    assert status.figures.buffer_days < 0  # above the descending curve is behind


def test_before_and_after_the_period():
    config = make_config(
        CONFIG.replace("period: month, target: 500", "period: {start: 2026-12-01, end: 2026-12-10}, target: 500")
    )
    before = evaluate_goal(config, config.goals[1], counts(), AT)
    assert (before.value, before.figures.elapsed_ratio, before.figures.pace_ratio) == (0, 0.0, 1.0)
    assert before.period == "2026-12-01..2026-12-10"
    after = evaluate_goal(config, config.goals[1], counts(), datetime(2026, 12, 20, tzinfo=UTC))
    assert after.figures.elapsed_ratio == 1.0


def test_counts_needed_covers_history_and_previous_period_for_checkins():
    config = make_config(CONFIG)
    needed = counts_needed(config, AT)
    assert needed.keys == (("kit", "new_subscribers"), ("lemlist", "emails_sent"))
    assert needed.first_day <= date(2025, 10, 21)  # the stock level may be 400 days old
    assert needed.last_day == date(2026, 11, 30)


def test_history_pacing_learns_weekday_pattern_and_falls_back():
    text = CONFIG.replace("pacing: business_days, checkins: week", "pacing: history")
    config = make_config(text)
    data = counts()
    no_history = evaluate_goal(config, config.goals[0], data, AT)
    assert no_history.notes[0].startswith("history: too little history")
    assert no_history.figures.elapsed_ratio == pytest.approx(0.725)  # business days, with the holiday

    # Eight weeks before November: 10 a day on Mondays only, so only Mondays carry weight.
    alice = dict(data[("lemlist", "emails_sent")]["alice@acme.io"])
    day = date(2026, 9, 6)
    while day < date(2026, 11, 1):
        if day.weekday() == 0:
            alice[day] = 10.0
        day += timedelta(days=1)
    data[("lemlist", "emails_sent")]["alice@acme.io"] = alice
    learned = evaluate_goal(config, config.goals[0], data, AT)
    assert learned.notes[0].startswith("history: the weekday pattern of the 8 weeks from 2026-09-06")
    # Weekday totals over the 8 weeks: Mondays 80, Saturdays 5 (the 31 October count).
    # November: Mondays 2, 9, 16, 23, 30 and Saturdays 7, 14, 21, 28, so W ∝ 5 × 80 + 4 × 5 = 420;
    # before noon on the 23rd: 3 Mondays, 3 Saturdays and half a Monday: 240 + 15 + 40 = 295.
    assert learned.figures.elapsed_ratio == pytest.approx(295 / 420)


def test_evaluate_goals_keeps_configuration_order():
    config = make_config(CONFIG)
    assert [(g.kpi, g.owner) for g in evaluate_goals(config, counts(), AT)] == [
        ("emails", "alice"),
        ("emails", "growth"),
        ("list_size", "maya"),
    ]


def test_the_forecast_moves_with_counts_and_days_not_within_a_day():
    # docs/forecast.md: the remaining weight is taken at the start of the local day, so the forecast
    # is recomputed only when counts or the day change.
    config = make_config(CONFIG)
    goal = config.goals[1]  # growth, linear month, value 152 + 28 + 5 = 185 by the 23rd
    morning, evening = AT.replace(hour=1), AT.replace(hour=23)
    at_morning = evaluate_goal(config, goal, counts(), morning)
    at_evening = evaluate_goal(config, goal, counts(), evening)
    assert at_morning.figures.elapsed_ratio < at_evening.figures.elapsed_ratio  # pace moved
    assert at_morning.hit_probability == at_evening.hit_probability
    # 8 whole days (23rd..30th) of the 30 are still ahead on the 23rd: W × (1 − 22/30).
    period = period_containing("month", date(2026, 11, 23))
    weights = day_weights(period, Linear())
    clock = day_clock(period, weights, date(2026, 11, 23), ZoneInfo("UTC"))
    assert remaining_weight(period_weight(period, weights), clock) == pytest.approx(8.0, rel=1e-15)
    tomorrow = evaluate_goal(config, goal, counts(), morning + timedelta(days=1))
    assert tomorrow.hit_probability != at_morning.hit_probability
    more = counts()
    more[("lemlist", "emails_sent")]["bob@acme.io"] = {date(2026, 11, 23): 100.0}
    assert evaluate_goal(config, goal, more, evening).hit_probability != at_evening.hit_probability
