"""Stock KPIs projected by their trend (docs/pace.md, "Stocks"): hand-computed cases."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest

from syncd.engine.evaluate import evaluate_goal
from syncd.engine.periods import custom_period
from syncd.engine.stock_trend import level_on, level_series, stock_trend
from tests.fakes import make_config

NOVEMBER = custom_period(date(2026, 11, 1), date(2026, 11, 30))


def test_level_series_starts_with_the_level_before_the_period_and_reads_each_day_at_its_end():
    by_subject = {"a": {date(2026, 10, 20): 100.0, date(2026, 11, 5): 110.0}, "b": {date(2026, 11, 10): 5.0}}
    points = level_series(by_subject, None, NOVEMBER, date(2026, 11, 20))
    assert points == [(0.0, 100.0), (5.0, 110.0), (10.0, 115.0)]


def test_level_on_sums_each_subjects_latest_level_on_or_before_the_day():
    # Days stored out of order: the latest day counts, not the last one stored.
    a = {date(2026, 11, 5): 110.0, date(2026, 10, 20): 100.0, date(2026, 11, 25): 130.0}
    b = {date(2026, 11, 10): 5.0}
    assert level_on([a, b], date(2026, 11, 4)) == 100.0
    assert level_on([a, b], date(2026, 11, 10)) == 115.0
    assert level_on([a, b], date(2026, 10, 19)) == 0.0  # no level known yet
    assert level_on([], date(2026, 11, 10)) == 0.0


def test_a_straight_line_projects_exactly_and_is_almost_sure():
    points = [(0.0, 100.0), (10.0, 120.0), (20.0, 140.0)]  # +2 a day
    trend = stock_trend(points, value=140, target=150, baseline=None, period_days=30, elapsed_days=20)
    assert trend.projected == pytest.approx(160)
    assert trend.slope_per_day == pytest.approx(2)
    # The goal asks (150 − 100) / 30 a day; the line ends 10 above the target: 6 days ahead.
    assert trend.buffer_days == pytest.approx(10 / (50 / 30))
    assert trend.required_daily_change == pytest.approx(10 / 10)
    assert trend.hit_probability == 0.99


def test_hit_probability_from_the_prediction_interval():
    points = [(0.0, 100.0), (10.0, 125.0), (20.0, 135.0)]
    trend = stock_trend(points, value=135, target=150, baseline=None, period_days=30, elapsed_days=20)
    # OLS by hand: slope 1.75, intercept 102.5, residuals (−2.5, 5, −2.5): s = √37.5.
    assert trend.slope_per_day == pytest.approx(1.75)
    assert trend.projected == pytest.approx(102.5 + 1.75 * 30)
    se = math.sqrt(37.5) * math.sqrt(1 + 1 / 3 + (30 - 10) ** 2 / 200)
    z = (150 - 155) / se
    assert trend.hit_probability == pytest.approx(1 - 0.5 * (1 + math.erf(z / math.sqrt(2))))


def test_at_most_counts_a_falling_level_as_ahead():
    points = [(0.0, 50.0), (10.0, 40.0), (20.0, 30.0)]
    trend = stock_trend(points, value=30, target=25, baseline=None, period_days=30, elapsed_days=20, at_most=True)
    assert trend.projected == pytest.approx(20)
    assert trend.buffer_days == pytest.approx(5 / (25 / 30))
    assert trend.required_daily_change == pytest.approx(0.5)
    assert trend.hit_probability == 0.99


def test_one_observation_is_no_trend():
    trend = stock_trend([(3.0, 80.0)], value=80, target=100, baseline=None, period_days=30, elapsed_days=3)
    assert trend.projected == 80
    assert trend.hit_probability is None


CONFIG = """
timezone: UTC
sources: {ahrefs: {connector: ahrefs, api_key: "${LEMLIST_API_KEY}", target: acme.io}}
kpis: {domains_held: {source: ahrefs, metric: referring_domains, kind: stock}}
goals: [{kpi: domains_held, owner: seo, period: month, target: 150}]
teams: {seo: {}}
"""


def test_a_stock_goal_through_the_daemons_evaluation():
    config = make_config(CONFIG)
    counts = {("ahrefs", "referring_domains"): {"acme.io": {
        date(2026, 10, 31): 100.0, date(2026, 11, 10): 120.0, date(2026, 11, 20): 140.0}}}  # fmt: skip
    status = evaluate_goal(config, config.goals[0], counts, datetime(2026, 11, 21, 0, 0, tzinfo=UTC))
    assert status.value == 140
    assert status.figures.projected == pytest.approx(160)  # not 140 / (20/30) = 210
    assert status.hit_probability == 0.99
