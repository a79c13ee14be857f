"""Periods: ids (CONTRACT §5), days, bounds in a zone, roll-over and check-ins."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from syncd.engine.periods import (
    CheckinKind,
    Period,
    PeriodKind,
    checkin_periods,
    custom_period,
    next_period,
    period_containing,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("kind", "day", "week_start", "expected"),
    [
        ("year", date(2026, 7, 2), 0, Period("2026", date(2026, 1, 1), date(2026, 12, 31))),
        ("quarter", date(2026, 11, 23), 0, Period("2026-Q4", date(2026, 10, 1), date(2026, 12, 31))),
        ("quarter", date(2026, 1, 1), 0, Period("2026-Q1", date(2026, 1, 1), date(2026, 3, 31))),
        ("quarter", date(2026, 6, 30), 0, Period("2026-Q2", date(2026, 4, 1), date(2026, 6, 30))),
        ("month", date(2026, 11, 30), 0, Period("2026-11", date(2026, 11, 1), date(2026, 11, 30))),
        ("month", date(2026, 12, 31), 0, Period("2026-12", date(2026, 12, 1), date(2026, 12, 31))),
        # 2028 is a leap year: February has 29 days.
        ("month", date(2028, 2, 15), 0, Period("2028-02", date(2028, 2, 1), date(2028, 2, 29))),
        ("month", date(2026, 2, 15), 0, Period("2026-02", date(2026, 2, 1), date(2026, 2, 28))),
        # 2026-11-23 is a Monday; its ISO week is 48 (the contract's example id).
        ("week", date(2026, 11, 23), 0, Period("2026-W48", date(2026, 11, 23), date(2026, 11, 29))),
        ("week", date(2026, 11, 29), 0, Period("2026-W48", date(2026, 11, 23), date(2026, 11, 29))),
        # 2026 starts on a Thursday, so it has 53 ISO weeks: Mon 2026-12-28 .. Sun 2027-01-03 is 2026-W53.
        ("week", date(2026, 12, 31), 0, Period("2026-W53", date(2026, 12, 28), date(2027, 1, 3))),
        ("week", date(2027, 1, 1), 0, Period("2026-W53", date(2026, 12, 28), date(2027, 1, 3))),
        ("week", date(2027, 1, 4), 0, Period("2027-W01", date(2027, 1, 4), date(2027, 1, 10))),
        # Mon 2025-12-29 .. Sun 2026-01-04 holds the Thursday 2026-01-01: ISO 2026-W01.
        ("week", date(2025, 12, 29), 0, Period("2026-W01", date(2025, 12, 29), date(2026, 1, 4))),
        # Sunday weeks (6): Sun 2026-12-27 .. Sat 2027-01-02, middle day Wed 2026-12-30 is in 2026-W53.
        ("week", date(2027, 1, 1), 6, Period("2026-W53", date(2026, 12, 27), date(2027, 1, 2))),
        # Sun 2027-01-03 .. Sat 2027-01-09, middle day Wed 2027-01-06 is in 2027-W01.
        ("week", date(2027, 1, 3), 6, Period("2027-W01", date(2027, 1, 3), date(2027, 1, 9))),
        # Sun 2026-11-22 .. Sat 11-28: six of its days are in ISO week 48 (middle day Wed 11-25).
        ("week", date(2026, 11, 22), 6, Period("2026-W48", date(2026, 11, 22), date(2026, 11, 28))),
        # Saturday weeks (5): Sat 2025-12-27 .. Fri 2026-01-02, middle day Tue 2025-12-30 is in 2026-W01.
        ("week", date(2026, 1, 1), 5, Period("2026-W01", date(2025, 12, 27), date(2026, 1, 2))),
        # Thursday weeks (3): Thu 2026-12-31 .. Wed 2027-01-06, middle day Sun 2027-01-03 is in 2026-W53.
        ("week", date(2027, 1, 6), 3, Period("2026-W53", date(2026, 12, 31), date(2027, 1, 6))),
        # Friday weeks (4): Fri 2027-01-01 .. Thu 01-07, middle day Mon 2027-01-04 is in 2027-W01.
        ("week", date(2027, 1, 1), 4, Period("2027-W01", date(2027, 1, 1), date(2027, 1, 7))),
    ],
)
def test_period_containing(kind: PeriodKind, day: date, week_start: int, expected: Period) -> None:
    assert period_containing(kind, day, week_start=week_start) == expected


@pytest.mark.parametrize(
    ("day", "anchor", "expected_id"),
    [
        # 2024-01-01 -> 2026-11-23 is 366 + 365 + 326 = 1057 days; 1057 // 14 = 75; 75 × 14 = 1050
        # days after the anchor is 2026-11-16, and the fortnight ends 13 days later.
        (date(2026, 11, 23), date(2024, 1, 1), "2026-11-16..2026-11-29"),
        (date(2026, 11, 16), date(2024, 1, 1), "2026-11-16..2026-11-29"),
        (date(2026, 11, 29), date(2024, 1, 1), "2026-11-16..2026-11-29"),
        (date(2026, 11, 30), date(2024, 1, 1), "2026-11-30..2026-12-13"),
        (date(2024, 1, 1), date(2024, 1, 1), "2024-01-01..2024-01-14"),
        # Before the anchor: -1 // 14 = -1, so the step starts 14 days before the anchor.
        (date(2023, 12, 31), date(2024, 1, 1), "2023-12-18..2023-12-31"),
        (date(2023, 12, 18), date(2024, 1, 1), "2023-12-18..2023-12-31"),
        (date(2023, 12, 17), date(2024, 1, 1), "2023-12-04..2023-12-17"),
        # Another anchor: 2026-11-23 - 2026-11-09 = 14 days, exactly one step.
        (date(2026, 11, 23), date(2026, 11, 9), "2026-11-23..2026-12-06"),
    ],
)
def test_fortnight_counts_steps_from_the_anchor(day: date, anchor: date, expected_id: str) -> None:
    fortnight = period_containing("fortnight", day, fortnight_anchor=anchor)
    assert fortnight.id == expected_id
    assert len(fortnight.days()) == 14
    assert fortnight.contains(day)


def test_fortnight_default_anchor_is_2024_01_01() -> None:
    assert period_containing("fortnight", date(2024, 1, 14)).id == "2024-01-01..2024-01-14"


def test_custom_period() -> None:
    period = custom_period(date(2026, 11, 16), date(2026, 11, 29))
    assert period == Period("2026-11-16..2026-11-29", date(2026, 11, 16), date(2026, 11, 29))
    assert len(period.days()) == 14
    assert period.days()[0] == date(2026, 11, 16)
    assert period.days()[-1] == date(2026, 11, 29)


def test_a_one_day_period_is_allowed_and_a_reversed_one_is_not() -> None:
    assert custom_period(date(2026, 1, 1), date(2026, 1, 1)).days() == [date(2026, 1, 1)]
    with pytest.raises(ValueError, match="before first day"):
        custom_period(date(2026, 1, 2), date(2026, 1, 1))


def test_week_start_out_of_range() -> None:
    with pytest.raises(ValueError, match="week_start"):
        period_containing("week", date(2026, 1, 1), week_start=7)


def test_contains_is_inclusive_at_both_ends() -> None:
    november = period_containing("month", date(2026, 11, 10))
    assert november.contains(date(2026, 11, 1))
    assert november.contains(date(2026, 11, 30))
    assert not november.contains(date(2026, 10, 31))
    assert not november.contains(date(2026, 12, 1))


@pytest.mark.parametrize(
    ("period", "tz", "start_utc", "deadline_utc"),
    [
        # 2026-11-01 is after London's clocks went back (10-25): GMT, offset 0 at both ends.
        (
            Period("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
            LONDON,
            datetime(2026, 11, 1, 0, tzinfo=UTC),
            datetime(2026, 12, 1, 0, tzinfo=UTC),
        ),
        # July in London is BST (+01:00): 00:00 local is 23:00 UTC the evening before.
        (
            Period("2026-07", date(2026, 7, 1), date(2026, 7, 31)),
            LONDON,
            datetime(2026, 6, 30, 23, tzinfo=UTC),
            datetime(2026, 7, 31, 23, tzinfo=UTC),
        ),
        # Q4 starts in BST (+01:00) and ends in GMT.
        (
            Period("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
            LONDON,
            datetime(2026, 9, 30, 23, tzinfo=UTC),
            datetime(2027, 1, 1, 0, tzinfo=UTC),
        ),
        # New York: March 2026 starts in EST (-05:00) and ends in EDT (-04:00).
        (
            Period("2026-03", date(2026, 3, 1), date(2026, 3, 31)),
            NEW_YORK,
            datetime(2026, 3, 1, 5, tzinfo=UTC),
            datetime(2026, 4, 1, 4, tzinfo=UTC),
        ),
    ],
)
def test_start_and_deadline(period: Period, tz: ZoneInfo, start_utc: datetime, deadline_utc: datetime) -> None:
    assert period.start(tz) == start_utc
    assert period.deadline(tz) == deadline_utc
    assert period.start(tz).tzinfo is tz
    assert (period.start(tz).hour, period.deadline(tz).hour) == (0, 0)


def test_start_where_midnight_does_not_exist() -> None:
    # Chile moved its clocks from 00:00 to 01:00 on 2026-09-06 (-04:00 -> -03:00): the day starts
    # at the jump, 04:00 UTC, shown as the wall time that exists.
    santiago = ZoneInfo("America/Santiago")
    start = custom_period(date(2026, 9, 6), date(2026, 9, 6)).start(santiago)
    assert start == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert start.isoformat() == "2026-09-06T01:00:00-03:00"


@pytest.mark.parametrize(
    ("kind", "period", "expected"),
    [
        ("month", Period("2026-12", date(2026, 12, 1), date(2026, 12, 31)), "2027-01"),
        ("quarter", Period("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)), "2027-Q1"),
        ("year", Period("2026", date(2026, 1, 1), date(2026, 12, 31)), "2027"),
        ("week", Period("2026-W53", date(2026, 12, 28), date(2027, 1, 3)), "2027-W01"),
        (
            "fortnight",
            Period("2026-11-16..2026-11-29", date(2026, 11, 16), date(2026, 11, 29)),
            "2026-11-30..2026-12-13",
        ),
    ],
)
def test_next_period_rolls_over(kind: PeriodKind, period: Period, expected: str) -> None:
    following = next_period(kind, period)
    assert following.id == expected
    assert following.first_day == date.fromordinal(period.last_day.toordinal() + 1)


def test_weekly_checkins_of_a_quarter_are_clipped_at_both_ends() -> None:
    # 2026-Q4 starts on Thursday 10-01 and ends on Thursday 12-31 (Monday weeks).
    checkins = checkin_periods(period_containing("quarter", date(2026, 10, 1)), "week")
    ids = [checkin.id for checkin in checkins]
    # Thu 10-01 .. Sun 10-04 is clipped; Mon 10-05 .. Sun 12-27 is 12 whole weeks (W41..W52);
    # Mon 12-28 .. Thu 12-31 is clipped from 2026-W53.
    assert ids[0] == "2026-10-01..2026-10-04"
    assert ids[1:13] == [f"2026-W{week}" for week in range(41, 53)]
    assert ids[13] == "2026-12-28..2026-12-31"
    assert len(ids) == 14
    assert checkins[1] == Period("2026-W41", date(2026, 10, 5), date(2026, 10, 11))


def test_weekly_checkins_from_sunday() -> None:
    # November 2026 starts on a Sunday: with Sunday weeks the first check-in is a whole week.
    checkins = checkin_periods(period_containing("month", date(2026, 11, 1)), "week", week_start=6)
    assert [c.id for c in checkins] == [
        "2026-W45",  # Sun 11-01 .. Sat 11-07, middle day Wed 11-04
        "2026-W46",
        "2026-W47",
        "2026-W48",
        "2026-11-29..2026-11-30",  # Sun 11-29 .. Mon 11-30, clipped
    ]


def test_monthly_checkins_of_a_custom_period() -> None:
    period = custom_period(date(2026, 11, 16), date(2027, 1, 10))
    assert checkin_periods(period, "month") == [
        Period("2026-11-16..2026-11-30", date(2026, 11, 16), date(2026, 11, 30)),
        Period("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
        Period("2027-01-01..2027-01-10", date(2027, 1, 1), date(2027, 1, 10)),
    ]


def test_fortnightly_checkins_step_from_the_period_start() -> None:
    # November 2026 (30 days): 1..14, 15..28, then 29..30 clipped.
    checkins = checkin_periods(period_containing("month", date(2026, 11, 5)), "fortnight")
    assert [c.id for c in checkins] == [
        "2026-11-01..2026-11-14",
        "2026-11-15..2026-11-28",
        "2026-11-29..2026-11-30",
    ]


def test_monthly_checkins_of_a_quarter_keep_their_month_ids() -> None:
    quarter = period_containing("quarter", date(2026, 5, 5))
    assert [c.id for c in checkin_periods(quarter, "month")] == ["2026-04", "2026-05", "2026-06"]


def test_checkins_cover_the_period_without_gaps() -> None:
    period = custom_period(date(2026, 11, 16), date(2027, 2, 3))
    kinds: tuple[CheckinKind, ...] = ("week", "fortnight", "month")
    for kind in kinds:
        days = [day for checkin in checkin_periods(period, kind) for day in checkin.days()]
        assert days == period.days()
