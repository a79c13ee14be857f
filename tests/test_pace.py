"""Pace maths against hand-computed cases (CONTRACT §4); the arithmetic is in each case's comment."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syncd.engine.pace import (
    BusinessDays,
    CustomWeights,
    Linear,
    PaceFigures,
    PacingCurve,
    checkin_holding,
    checkin_target,
    day_clock,
    day_weights,
    elapsed_fraction,
    flow_value,
    pace_figures,
    period_weight,
    stock_value,
    stretched_target,
)
from syncd.engine.periods import Period, checkin_periods, custom_period, period_containing

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
# The contract's example holidays.
HOLIDAYS = BusinessDays(frozenset({date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)}))
# A microsecond short of a whole day, as a fraction of a 24-hour day.
LAST_MICROSECOND = Fraction(86_400_000_000 - 1, 86_400_000_000)


def local(
    tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *rest: int, fold: int = 0
) -> datetime:
    second, microsecond = (*rest, 0, 0)[:2]
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=tz, fold=fold)


NOVEMBER = Period("2026-11", date(2026, 11, 1), date(2026, 11, 30))
DECEMBER = Period("2026-12", date(2026, 12, 1), date(2026, 12, 31))
Q4_2026 = Period("2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
LONDON_W13 = Period("2026-W13", date(2026, 3, 23), date(2026, 3, 29))  # ends on the 23-hour day
LONDON_W43 = Period("2026-W43", date(2026, 10, 19), date(2026, 10, 25))  # ends on the 25-hour day
NEW_YORK_W10 = Period("2026-W10", date(2026, 3, 2), date(2026, 3, 8))
NEW_YORK_W44 = Period("2026-W44", date(2026, 10, 26), date(2026, 11, 1))
NEW_YORK_FALL_BACK_DAY = custom_period(date(2026, 11, 1), date(2026, 11, 1))
CHRISTMAS_WEEK = custom_period(date(2026, 12, 21), date(2026, 12, 25))  # Mon..Fri, Friday a holiday
Q4_2028 = Period("2028-Q4", date(2028, 10, 1), date(2028, 12, 31))  # starts on Sunday 2028-10-01
FEBRUARY_2028 = Period("2028-02", date(2028, 2, 1), date(2028, 2, 29))
YEAR_2026 = Period("2026", date(2026, 1, 1), date(2026, 12, 31))
WEEKEND = custom_period(date(2026, 11, 28), date(2026, 11, 29))  # Saturday and Sunday
CUSTOM_WEEK = custom_period(date(2026, 11, 30), date(2026, 12, 6))  # Mon 11-30 .. Sun 12-06
CUSTOM_CURVE = CustomWeights(weekday={5: 0.5, 6: 0.0}, month={12: 2.0})

ELAPSED_CASES: list[tuple[str, Period, PacingCurve, ZoneInfo, datetime, Fraction]] = [
    # November 2026 in London is all GMT: 30 days of 24 h, linear W = 30.
    ("month: first instant", NOVEMBER, Linear(), LONDON, local(LONDON, 2026, 11, 1), Fraction(0)),
    ("month: before start", NOVEMBER, Linear(), LONDON, local(LONDON, 2026, 10, 31, 23, 59), Fraction(0)),
    # 6 h of 24 on day 1: (0 + 1/4) / 30 = 1/120.
    ("month: 06:00 day 1", NOVEMBER, Linear(), LONDON, local(LONDON, 2026, 11, 1, 6), Fraction(1, 120)),
    # 29 whole days + all but a microsecond of the 30th: (29 + LAST_MICROSECOND) / 30.
    (
        "month: last instant",
        NOVEMBER,
        Linear(),
        LONDON,
        local(LONDON, 2026, 11, 30, 23, 59, 59, 999_999),
        (29 + LAST_MICROSECOND) / 30,
    ),
    ("month: deadline", NOVEMBER, Linear(), LONDON, local(LONDON, 2026, 12, 1), Fraction(1)),
    ("month: after deadline", NOVEMBER, Linear(), LONDON, local(LONDON, 2027, 1, 5), Fraction(1)),
    # Q4 starts 2026-10-01 00:00 BST = 2026-09-30 23:00 UTC; 92 days.
    ("quarter: first instant", Q4_2026, Linear(), LONDON, datetime(2026, 9, 30, 23, tzinfo=UTC), Fraction(0)),
    (
        "quarter: before start",
        Q4_2026,
        Linear(),
        LONDON,
        datetime(2026, 9, 30, 22, 59, tzinfo=UTC),
        Fraction(0),
    ),
    # 23:30 UTC is 00:30 BST: half an hour of 24 h, (1/48) / 92 = 1/4416.
    (
        "quarter: 00:30 BST",
        Q4_2026,
        Linear(),
        LONDON,
        datetime(2026, 9, 30, 23, 30, tzinfo=UTC),
        Fraction(1, 4416),
    ),
    # Oct 31 + Nov 15 = 46 whole days, then 6 h of 24: (46 + 1/4) / 92 = 185/368.
    ("quarter: 11-16 06:00", Q4_2026, Linear(), LONDON, local(LONDON, 2026, 11, 16, 6), Fraction(185, 368)),
    # Oct 1..24 = 24 whole days; 12:00 GMT on the 25-hour day is 13 real hours in: (24 + 13/25) / 92.
    ("quarter: DST day", Q4_2026, Linear(), LONDON, local(LONDON, 2026, 10, 25, 12), Fraction(613, 2300)),
    (
        "quarter: last instant",
        Q4_2026,
        Linear(),
        LONDON,
        local(LONDON, 2026, 12, 31, 23, 59, 59, 999_999),
        (91 + LAST_MICROSECOND) / 92,
    ),
    ("quarter: deadline", Q4_2026, Linear(), LONDON, datetime(2027, 1, 1, tzinfo=UTC), Fraction(1)),
    # London 2026-03-29: 00:00 GMT = 00:00 UTC, clocks jump 01:00 -> 02:00, 23 h long.
    # 12:00 BST = 11:00 UTC: 11 h of 23. (6 + 11/23) / 7 = 149/161.
    (
        "London 23 h day, noon",
        LONDON_W13,
        Linear(),
        LONDON,
        local(LONDON, 2026, 3, 29, 12),
        Fraction(149, 161),
    ),
    # 02:30 BST = 01:30 UTC: 1.5 h of 23. (6 + 3/46) / 7 = 279/322.
    (
        "London 23 h day, 02:30",
        LONDON_W13,
        Linear(),
        LONDON,
        local(LONDON, 2026, 3, 29, 2, 30),
        Fraction(279, 322),
    ),
    # London 2026-10-25: 00:00 BST = 23:00 UTC the day before, clocks go back 02:00 -> 01:00, 25 h.
    # 12:00 GMT = 12:00 UTC: 13 h of 25 (not 12/24). (6 + 13/25) / 7 = 163/175.
    (
        "London 25 h day, noon",
        LONDON_W43,
        Linear(),
        LONDON,
        local(LONDON, 2026, 10, 25, 12),
        Fraction(163, 175),
    ),
    # First 01:30 (BST, fold 0) = 00:30 UTC: 1.5 h of 25. (6 + 3/50) / 7 = 303/350.
    (
        "London 25 h day, first 01:30",
        LONDON_W43,
        Linear(),
        LONDON,
        local(LONDON, 2026, 10, 25, 1, 30),
        Fraction(303, 350),
    ),
    # Second 01:30 (GMT, fold 1) = 01:30 UTC: 2.5 h of 25 = 1/10. (6 + 1/10) / 7 = 61/70.
    (
        "London 25 h day, second 01:30",
        LONDON_W43,
        Linear(),
        LONDON,
        local(LONDON, 2026, 10, 25, 1, 30, fold=1),
        Fraction(61, 70),
    ),
    # New York 2026-03-08: 00:00 EST = 05:00 UTC, 12:00 EDT = 16:00 UTC: 11 h of 23. (6 + 11/23) / 7.
    (
        "NY 23 h day, noon",
        NEW_YORK_W10,
        Linear(),
        NEW_YORK,
        local(NEW_YORK, 2026, 3, 8, 12),
        Fraction(149, 161),
    ),
    # New York 2026-11-01: 00:00 EDT = 04:00 UTC, 12:00 EST = 17:00 UTC: 13 h of 25. (6 + 13/25) / 7.
    (
        "NY 25 h day, noon",
        NEW_YORK_W44,
        Linear(),
        NEW_YORK,
        local(NEW_YORK, 2026, 11, 1, 12),
        Fraction(163, 175),
    ),
    # The 25-hour day alone: 12:00 EST is 13/25 of it; 11:00 EST (16:00 UTC) is 12 h in, 12/25.
    (
        "NY 25 h day alone, noon",
        NEW_YORK_FALL_BACK_DAY,
        Linear(),
        NEW_YORK,
        local(NEW_YORK, 2026, 11, 1, 12),
        Fraction(13, 25),
    ),
    (
        "NY 25 h day alone, 11:00",
        NEW_YORK_FALL_BACK_DAY,
        Linear(),
        NEW_YORK,
        local(NEW_YORK, 2026, 11, 1, 11),
        Fraction(12, 25),
    ),
    # December 2026, business days without 12-25 and 12-28: Tue 1..Fri 4 (4) + 5 + 5 + 21..24 (4)
    # + 29..31 (3) = 21. On Tue 12-15 at 15:00 GMT: 4 + 5 + Mon 14 = 10 days before, 15/24 of today.
    # (10 + 5/8) / 21 = 85/168.
    ("business: 12-15 15:00", DECEMBER, HOLIDAYS, LONDON, local(LONDON, 2026, 12, 15, 15), Fraction(85, 168)),
    # Thu 12-24 18:00: 4 + 5 + 5 + 3 (21..23) = 17 days before, 3/4 of today. (17 + 3/4) / 21 = 71/84.
    ("business: 12-24 18:00", DECEMBER, HOLIDAYS, LONDON, local(LONDON, 2026, 12, 24, 18), Fraction(71, 84)),
    # The holiday (Fri 12-25) weighs 0: 18 working days before, nothing added today. 18/21 = 6/7.
    ("business: holiday noon", DECEMBER, HOLIDAYS, LONDON, local(LONDON, 2026, 12, 25, 12), Fraction(6, 7)),
    # Weekend and the 12-28 holiday add nothing either: still 18/21 at the start of Tue 12-29.
    ("business: 12-29 00:00", DECEMBER, HOLIDAYS, LONDON, local(LONDON, 2026, 12, 29), Fraction(6, 7)),
    # Tue 12-29 12:00: (18 + 1/2) / 21 = 37/42.
    ("business: 12-29 noon", DECEMBER, HOLIDAYS, LONDON, local(LONDON, 2026, 12, 29, 12), Fraction(37, 42)),
    # Mon 12-21..Fri 12-25 with Friday a holiday: W = 4. Thu 12:00: (3 + 1/2) / 4 = 7/8.
    (
        "holiday last day: Thu",
        CHRISTMAS_WEEK,
        HOLIDAYS,
        LONDON,
        local(LONDON, 2026, 12, 24, 12),
        Fraction(7, 8),
    ),
    # All the weight is behind us as Friday begins, a whole day before the deadline: 4/4.
    ("holiday last day: Fri", CHRISTMAS_WEEK, HOLIDAYS, LONDON, local(LONDON, 2026, 12, 25), Fraction(1)),
    # 2028-Q4 starts on Sunday 10-01. W: Oct 22 (Mon 2..Fri 27 = 20, Mon 30, Tue 31) + Nov 22
    # (Wed 1..Fri 3, 15, Mon 27..Thu 30) + Dec 21 (Fri 1, 20 in 4..29) = 65.
    (
        "weekend start: Sunday",
        Q4_2028,
        BusinessDays(),
        UTC_ZONE,
        local(UTC_ZONE, 2028, 10, 1, 12),
        Fraction(0),
    ),
    # Monday 10-02 12:00 UTC: (0 + 1/2) / 65 = 1/130.
    (
        "weekend start: Monday",
        Q4_2028,
        BusinessDays(),
        UTC_ZONE,
        local(UTC_ZONE, 2028, 10, 2, 12),
        Fraction(1, 130),
    ),
    # Leap February 2028, linear: 14 days before the 15th, W = 29.
    ("leap February", FEBRUARY_2028, Linear(), UTC_ZONE, local(UTC_ZONE, 2028, 2, 15), Fraction(14, 29)),
    # 28 days + half of the 29th: 28.5 / 29 = 57/58.
    ("leap day noon", FEBRUARY_2028, Linear(), UTC_ZONE, local(UTC_ZONE, 2028, 2, 29, 12), Fraction(57, 58)),
    # Business days of February 2028: Tue 1..Fri 4 (4) + 15 + Mon 28, Tue 29 = 21; 20 before the 29th.
    (
        "leap day, business",
        FEBRUARY_2028,
        BusinessDays(),
        UTC_ZONE,
        local(UTC_ZONE, 2028, 2, 29),
        Fraction(20, 21),
    ),
    # Year 2026: Jan..Jun = 181 days, + Jul 1 = 182, + half of Jul 2: 182.5 / 365 = 1/2.
    ("year 2026", YEAR_2026, Linear(), UTC_ZONE, local(UTC_ZONE, 2026, 7, 2, 12), Fraction(1, 2)),
    # Custom weights Mon 11-30 .. Sun 12-06: Mon 1; Tue..Fri 1 × 2 (December) each = 8; Sat 0.5 × 2 = 1;
    # Sun 0 × 2 = 0; W = 10. Wed 12-02 12:00: (1 + 2 + 2 × 1/2) / 10 = 2/5.
    ("custom weights", CUSTOM_WEEK, CUSTOM_CURVE, UTC_ZONE, local(UTC_ZONE, 2026, 12, 2, 12), Fraction(2, 5)),
    # A weekend under business days weighs 0 in all: paced as linear, Sat 12:00 = (1/2) / 2 = 1/4.
    ("zero weight", WEEKEND, BusinessDays(), UTC_ZONE, local(UTC_ZONE, 2026, 11, 28, 12), Fraction(1, 4)),
]


@pytest.mark.parametrize(
    ("period", "curve", "tz", "instant", "expected"),
    [case[1:] for case in ELAPSED_CASES],
    ids=[case[0] for case in ELAPSED_CASES],
)
def test_elapsed_fraction(
    period: Period, curve: PacingCurve, tz: ZoneInfo, instant: datetime, expected: Fraction
) -> None:
    elapsed = elapsed_fraction(period, day_weights(period, curve), instant, tz)
    # E is computed in exact fractions, so it is the float nearest to the hand-computed fraction.
    assert elapsed == float(expected)


def test_the_same_instant_in_another_zone_gives_the_same_fraction() -> None:
    weights = day_weights(LONDON_W43, Linear())
    noon_gmt = local(LONDON, 2026, 10, 25, 12)
    assert elapsed_fraction(LONDON_W43, weights, noon_gmt.astimezone(UTC), LONDON) == float(Fraction(163, 175))
    # A wall-clock subtraction would have said half the day, (6 + 1/2) / 7 = 13/14.
    assert elapsed_fraction(LONDON_W43, weights, noon_gmt, LONDON) != float(Fraction(13, 14))


def test_the_last_instant_is_short_of_one() -> None:
    weights = day_weights(NOVEMBER, Linear())
    assert elapsed_fraction(NOVEMBER, weights, local(LONDON, 2026, 11, 30, 23, 59, 59, 999_999), LONDON) < 1.0


def test_a_day_clock_at_its_day_start_is_e_at_local_midnight() -> None:
    # The forecast's remaining weight reads E at the day's start (forecast_bridge.remaining_weight):
    # on the 25-hour London day, 6 of the week's 7 days are behind it.
    weights = day_weights(LONDON_W43, Linear())
    clock = day_clock(LONDON_W43, weights, date(2026, 10, 25), LONDON)
    assert clock.at_day_start() == float(Fraction(6, 7))
    assert clock.at_day_start() == clock.at(local(LONDON, 2026, 10, 25))
    before = day_clock(NOVEMBER, day_weights(NOVEMBER, Linear()), date(2026, 10, 31), LONDON)
    assert before.at_day_start() == 0.0


def test_elapsed_fraction_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        elapsed_fraction(NOVEMBER, day_weights(NOVEMBER, Linear()), datetime(2026, 11, 5), LONDON)  # noqa: DTZ001


def test_day_weights() -> None:
    assert day_weights(CUSTOM_WEEK, CUSTOM_CURVE) == {
        date(2026, 11, 30): 1.0,  # Monday, November: 1 × 1
        date(2026, 12, 1): 2.0,  # Tuesday, December: 1 × 2
        date(2026, 12, 2): 2.0,
        date(2026, 12, 3): 2.0,
        date(2026, 12, 4): 2.0,
        date(2026, 12, 5): 1.0,  # Saturday: 0.5 × 2
        date(2026, 12, 6): 0.0,  # Sunday: 0 × 2
    }
    assert day_weights(CHRISTMAS_WEEK, HOLIDAYS) == {
        date(2026, 12, 21): 1.0,
        date(2026, 12, 22): 1.0,
        date(2026, 12, 23): 1.0,
        date(2026, 12, 24): 1.0,
        date(2026, 12, 25): 0.0,  # a holiday
    }


@pytest.mark.parametrize(
    ("period", "curve", "expected"),
    [
        (DECEMBER, HOLIDAYS, 21.0),
        (NOVEMBER, Linear(), 30.0),
        (Q4_2028, BusinessDays(), 65.0),
        (CUSTOM_WEEK, CUSTOM_CURVE, 10.0),
        (WEEKEND, BusinessDays(), 2.0),  # no weight at all: counted as linear days
    ],
)
def test_period_weight(period: Period, curve: PacingCurve, expected: float) -> None:
    assert period_weight(period, day_weights(period, curve)) == expected


@pytest.mark.parametrize(
    ("weekday", "month", "message"),
    [({7: 1.0}, {}, "outside 0..6"), ({}, {0: 1.0}, "outside 1..12"), ({1: -1.0}, {}, ">= 0")],
)
def test_custom_weights_are_validated(weekday: dict[int, float], month: dict[int, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CustomWeights(weekday=weekday, month=month)


def figures(**changes: object) -> PaceFigures:
    return pace_figures(**changes)  # type: ignore[arg-type]


def test_the_worked_example_of_docs_pace_md() -> None:
    # December 2026, London, business days with 12-25 and 12-28 off: W = 21.
    # At Tue 2026-12-15 15:00 GMT, E = (10 + 15/24) / 21 = 85/168; alice has sent 230 of 400.
    period = period_containing("month", date(2026, 12, 15))
    weights = day_weights(period, HOLIDAYS)
    elapsed = elapsed_fraction(period, weights, local(LONDON, 2026, 12, 15, 15), LONDON)
    result = pace_figures(value=230, target=400, elapsed=elapsed, total_weight=period_weight(period, weights))
    e = Fraction(85, 168)
    assert result.elapsed_ratio == float(e)
    # expected = 400 × 85/168 = 4250/21 = 202.380952...
    assert result.expected == pytest.approx(float(400 * e), rel=1e-14)
    # pace = 230 / (4250/21) = 4830/4250 = 1.136470588...
    assert result.pace_ratio == pytest.approx(4830 / 4250, rel=1e-14)
    assert result.progress_ratio == 0.575  # 230 / 400
    # projected = 230 / (85/168) = 38640/85 = 454.588235...
    assert result.projected == pytest.approx(38640 / 85, rel=1e-14)
    # required = 170 / (21 × 83/168) = 170 / 10.375 = 1360/83 = 16.385542...
    assert result.required_daily_rate == pytest.approx(1360 / 83, rel=1e-14)
    # buffer = (230 − 4250/21) / (400/21) = (4830 − 4250) / 400 = 1.45
    assert result.buffer_days == 1.45
    assert result.status == "ahead"  # 1.136 ≥ 1.1
    # The weekly check-in holding 12-15 is 2026-W51, 5 working days: 400 × 5/21 = 2000/21.
    holding = checkin_holding(checkin_periods(period, "week"), date(2026, 12, 15))
    assert holding is not None
    assert holding.id == "2026-W51"
    assert checkin_target(400, holding, period, weights) == pytest.approx(2000 / 21, rel=1e-14)


def test_the_snippet_of_docs_pace_md_runs() -> None:
    text = (Path(__file__).parent.parent / "docs" / "pace.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(snippets) == 1
    exec(compile(snippets[0], "docs/pace.md", "exec"), {})  # noqa: S102 - our own documentation


@pytest.mark.parametrize(
    ("value", "target", "elapsed", "tolerance", "status", "pace_ratio"),
    [
        # target 200 at E = 1/2: expected 100.
        (90, 200, 0.5, 0.10, "on_pace", 0.9),  # 90/100 = 0.9 is not below 1 − 0.1
        (89.99, 200, 0.5, 0.10, "behind", 0.8999),
        (110, 200, 0.5, 0.10, "ahead", 1.1),  # 110/100 = 1.1 ≥ 1 + 0.1
        (109.99, 200, 0.5, 0.10, "on_pace", 1.0999),
        (100, 200, 0.5, 0.10, "on_pace", 1.0),
        (200, 200, 0.5, 0.10, "achieved", 2.0),  # value ≥ target wins over pace
        (250, 200, 0.5, 0.10, "achieved", 2.5),
        # 300 × 0.3 is 89.99999999999999 in binary; the expected figure is 90, so 81/90 = 0.9.
        (81, 300, 0.3, 0.10, "on_pace", 0.9),
        (99, 300, 0.3, 0.10, "ahead", 1.1),  # 99/90 = 1.1
        # tolerance 0.2: the band is [0.8, 1.2).
        (80, 200, 0.5, 0.20, "on_pace", 0.8),
        (79, 200, 0.5, 0.20, "behind", 0.79),
        (120, 200, 0.5, 0.20, "ahead", 1.2),
        (119, 200, 0.5, 0.20, "on_pace", 1.19),
        # tolerance 0: exactly on the curve is already ≥ 1 + 0.
        (100, 200, 0.5, 0.0, "ahead", 1.0),
        (99, 200, 0.5, 0.0, "behind", 0.99),
    ],
)
def test_status_thresholds(
    value: float, target: float, elapsed: float, tolerance: float, status: str, pace_ratio: float
) -> None:
    result = pace_figures(value=value, target=target, elapsed=elapsed, total_weight=20, tolerance=tolerance)
    assert result.pace_ratio == pace_ratio
    assert result.status == status


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        # At the start, nothing is expected: pace 1 by definition, projected = value, buffer from value.
        # required = (400 − 5) / (30 × 1) = 395/30; buffer = (5 − 0) / (400/30) = 0.375.
        (
            {"value": 5, "target": 400, "elapsed": 0.0, "total_weight": 30},
            PaceFigures(0.0, 1.0, 0.0125, 0.0, 5, 395 / 30, 0.375, "on_pace"),
        ),
        (
            {"value": 0, "target": 400, "elapsed": 0.0, "total_weight": 30},
            PaceFigures(0.0, 1.0, 0.0, 0.0, 0, 400 / 30, 0.0, "on_pace"),
        ),
        # At the deadline, 300 of 400: expected 400, pace 0.75; no working time left, so the
        # required rate is the whole 100 left; buffer = (300 − 400) / (400/30) = −7.5.
        (
            {"value": 300, "target": 400, "elapsed": 1.0, "total_weight": 30},
            PaceFigures(400.0, 0.75, 0.75, 1.0, 300.0, 100.0, -7.5, "behind"),
        ),
        # The holiday on the last day: E = 1 a day early (W = 4), 30 of 40: 10 left at once;
        # buffer = (30 − 40) / (40/4) = −1.
        (
            {"value": 30, "target": 40, "elapsed": 1.0, "total_weight": 4},
            PaceFigures(40.0, 0.75, 0.75, 1.0, 30.0, 10.0, -1.0, "behind"),
        ),
        # No weight passed at all: no daily share, so buffer 0 and the remaining 60 at once.
        (
            {"value": 40, "target": 100, "elapsed": 0.5, "total_weight": 0},
            PaceFigures(50.0, 0.8, 0.4, 0.5, 80.0, 60.0, 0.0, "behind"),
        ),
        # A target of 0 is achieved by any value ≥ 0; progress is 1 rather than a division by 0.
        (
            {"value": 0, "target": 0, "elapsed": 0.5, "total_weight": 10},
            PaceFigures(0.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0, "achieved"),
        ),
        # Achieved early: 450 of 400 at E = 1/4, W = 20: expected 100, pace 4.5, projected 1800,
        # nothing required; buffer = (450 − 100) / (400/20) = 17.5.
        (
            {"value": 450, "target": 400, "elapsed": 0.25, "total_weight": 20},
            PaceFigures(100.0, 4.5, 1.125, 0.25, 1800.0, 0.0, 17.5, "achieved"),
        ),
        # A stock KPI with a baseline: 1000 -> 1500, E = 0.4, W = 20, level 1150.
        # expected = 1000 + 500 × 0.4 = 1200; pace = 1150/1200 = 23/24; progress = 1150/1500 = 23/30;
        # projected = 1150 / 0.4 = 2875; required = 350 / (20 × 0.6) = 175/6;
        # buffer = (1150 − 1200) / (1500/20) = −2/3.
        (
            {"value": 1150, "target": 1500, "elapsed": 0.4, "total_weight": 20, "baseline": 1000},
            PaceFigures(1200.0, 23 / 24, 23 / 30, 0.4, 2875.0, 175 / 6, -2 / 3, "on_pace"),
        ),
    ],
)
def test_pace_figures(inputs: dict[str, float], expected: PaceFigures) -> None:
    result = figures(**inputs)
    assert result.status == expected.status
    for name in ("expected", "pace_ratio", "progress_ratio", "elapsed_ratio", "projected"):
        assert getattr(result, name) == pytest.approx(getattr(expected, name), rel=1e-14), name
    assert result.required_daily_rate == pytest.approx(expected.required_daily_rate, rel=1e-14)
    assert result.buffer_days == pytest.approx(expected.buffer_days, rel=1e-14)


@pytest.mark.parametrize(
    "inputs",
    [
        {"value": 1, "target": 10, "elapsed": 1.5, "total_weight": 10},
        {"value": 1, "target": 10, "elapsed": -0.1, "total_weight": 10},
        {"value": 1, "target": -10, "elapsed": 0.5, "total_weight": 10},
        {"value": 1, "target": 10, "elapsed": 0.5, "total_weight": -1},
        {"value": float("nan"), "target": 10, "elapsed": 0.5, "total_weight": 10},
    ],
)
def test_pace_figures_refuses_impossible_inputs(inputs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"finite|within|negative"):
        figures(**inputs)


@pytest.mark.parametrize(
    ("committed", "stretch", "expected"),
    [
        (300, 0.30, 390.0),  # 300 × 1.3 is 390.00000000000006 in binary
        (300, 0.0, 300.0),
        (123.4, 0.15, 141.91),  # 123.4 × 1.15
        (1000, 0.1, 1100.0),
    ],
)
def test_stretched_target(committed: float, stretch: float, expected: float) -> None:
    assert stretched_target(committed, stretch) == expected


def test_checkin_targets_follow_the_share_of_weight() -> None:
    # December 2026 business days (W = 21) in Monday weeks: Tue 1..Sun 6 has 4 working days,
    # W50 and W51 5 each, W52 4 (25th off), Mon 28..Thu 31 3 (28th off). 400 × 4/21 = 1600/21, ...
    weights = day_weights(DECEMBER, HOLIDAYS)
    checkins = checkin_periods(DECEMBER, "week")
    targets = [checkin_target(400, checkin, DECEMBER, weights) for checkin in checkins]
    assert [c.id for c in checkins] == [
        "2026-12-01..2026-12-06",
        "2026-W50",
        "2026-W51",
        "2026-W52",
        "2026-12-28..2026-12-31",
    ]
    assert targets == pytest.approx([1600 / 21, 2000 / 21, 2000 / 21, 1600 / 21, 1200 / 21], rel=1e-14)
    assert sum(targets) == pytest.approx(400, rel=1e-14)


def test_linear_fortnight_checkins_of_november() -> None:
    # 300 over 30 days: 14/30 × 300 = 140, 140, then 2/30 × 300 = 20.
    weights = day_weights(NOVEMBER, Linear())
    targets = [checkin_target(300, c, NOVEMBER, weights) for c in checkin_periods(NOVEMBER, "fortnight")]
    assert targets == [140.0, 140.0, 20.0]


def test_checkin_holding() -> None:
    checkins = checkin_periods(DECEMBER, "week")
    holding = checkin_holding(checkins, date(2026, 12, 15))
    assert holding is not None
    assert holding.id == "2026-W51"
    assert checkin_holding(checkins, date(2027, 1, 1)) is None


def test_flow_value_sums_the_period_up_to_today() -> None:
    counts = {
        date(2026, 11, 30): 5.0,  # before the period
        date(2026, 12, 1): 3.0,
        date(2026, 12, 2): 4.0,
        date(2026, 12, 15): 10.0,  # today counts
        date(2026, 12, 16): 7.0,  # after today
        date(2027, 1, 1): 9.0,  # after the period
    }
    assert flow_value(counts, DECEMBER, date(2026, 12, 15)) == 17.0  # 3 + 4 + 10
    assert flow_value(counts, DECEMBER, date(2026, 11, 30)) == 0.0
    # Asked after the deadline, the whole period counts and nothing after it: 3 + 4 + 10 + 7.
    assert flow_value(counts, DECEMBER, date(2027, 1, 5)) == 24.0


def test_stock_value_is_the_latest_level_on_or_before_today() -> None:
    levels = {date(2026, 10, 1): 100.0, date(2026, 11, 15): 120.0, date(2026, 12, 2): 130.0}
    assert stock_value(levels, date(2026, 12, 1)) == 120.0
    assert stock_value(levels, date(2026, 12, 2)) == 130.0
    assert stock_value(levels, date(2026, 9, 30)) is None


def test_one_day_after_the_deadline_every_day_has_passed() -> None:
    weights = day_weights(DECEMBER, HOLIDAYS)
    after = DECEMBER.deadline(LONDON) + timedelta(days=1)
    assert elapsed_fraction(DECEMBER, weights, after, LONDON) == 1.0
