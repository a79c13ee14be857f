"""Goal periods: which days a period holds, its id, its bounds in a time zone, and its check-ins.

A period is a run of whole local days, `[start, deadline)` in the configured time zone
(CONTRACT §4). Ids follow CONTRACT §5: `2026`, `2026-Q4`, `2026-11`, `2026-W48`, and
`2026-11-16..2026-11-29` for fortnights, custom periods and clipped check-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_FORTNIGHT_ANCHOR",
    "CheckinKind",
    "Period",
    "PeriodKind",
    "checkin_periods",
    "custom_period",
    "local_midnight",
    "next_period",
    "period_containing",
]

PeriodKind = Literal["week", "fortnight", "month", "quarter", "year"]
CheckinKind = Literal["week", "fortnight", "month"]

# CONTRACT §4: fortnights count 14-day steps from this Monday unless configured otherwise.
DEFAULT_FORTNIGHT_ANCHOR = date(2024, 1, 1)

_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=4096)
def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Return the first instant of `day` in `tz` (memoised: every goal's status asks for its period's bounds).

    Where a zone skips midnight (a DST jump at 00:00), `fold=0` resolves the missing 00:00 to the
    instant of the jump; the round trip through UTC then shows it as the wall time that exists.
    """
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC).astimezone(tz)


@dataclass(frozen=True)
class Period:
    """A run of whole local days, `first_day` to `last_day` (both included), with its id."""

    id: str
    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"period {self.id}: last day {self.last_day} is before first day {self.first_day}")

    def days(self) -> list[date]:
        """Return every day of the period, in order."""
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=i) for i in range(count)]

    def start(self, tz: ZoneInfo) -> datetime:
        """Return 00:00 local of the first day: the period's first instant."""
        return local_midnight(self.first_day, tz)

    def deadline(self, tz: ZoneInfo) -> datetime:
        """Return 00:00 local of the day after the last day: the first instant after the period."""
        return local_midnight(self.last_day + _ONE_DAY, tz)

    def contains(self, day: date) -> bool:
        """Say whether `day` is one of the period's days."""
        return self.first_day <= day <= self.last_day


def _span_id(first_day: date, last_day: date) -> str:
    return f"{first_day.isoformat()}..{last_day.isoformat()}"


def custom_period(first_day: date, last_day: date) -> Period:
    """Return the period from `first_day` to `last_day`, both included, with a `first..last` id."""
    return Period(_span_id(first_day, last_day), first_day, last_day)


def _week_id(first_day: date) -> str:
    # The ISO week that holds most of the week's seven days: the one of its middle day. For a
    # Monday week that is the Thursday, exactly ISO's own rule; for a Sunday week, its Wednesday.
    year, week, _ = (first_day + timedelta(days=3)).isocalendar()
    return f"{year}-W{week:02d}"


def _week(day: date, week_start: int) -> Period:
    first_day = day - timedelta(days=(day.weekday() - week_start) % 7)
    return Period(_week_id(first_day), first_day, first_day + timedelta(days=6))


def _fortnight(day: date, anchor: date) -> Period:
    # Floor division counts steps before the anchor too: day anchor-1 is in step -1.
    step = (day - anchor).days // 14
    first_day = anchor + timedelta(days=14 * step)
    return custom_period(first_day, first_day + timedelta(days=13))


def _month(day: date) -> Period:
    first_day = day.replace(day=1)
    return Period(f"{day.year}-{day.month:02d}", first_day, _first_of_next_month(first_day) - _ONE_DAY)


def _first_of_next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _quarter(day: date) -> Period:
    quarter = (day.month - 1) // 3 + 1
    first_day = date(day.year, 3 * quarter - 2, 1)
    after = date(day.year + 1, 1, 1) if quarter == 4 else date(day.year, 3 * quarter + 1, 1)
    return Period(f"{day.year}-Q{quarter}", first_day, after - _ONE_DAY)


def _year(day: date) -> Period:
    return Period(str(day.year), date(day.year, 1, 1), date(day.year, 12, 31))


def _check_week_start(week_start: int) -> None:
    if not 0 <= week_start <= 6:
        raise ValueError(f"week_start must be 0 (Monday) to 6 (Sunday), not {week_start}")


def period_containing(
    kind: PeriodKind,
    day: date,
    *,
    week_start: int = 0,
    fortnight_anchor: date = DEFAULT_FORTNIGHT_ANCHOR,
) -> Period:
    """Return the recurring period of `kind` that holds `day` (week_start: 0 = Monday .. 6 = Sunday)."""
    _check_week_start(week_start)
    if kind == "week":
        return _week(day, week_start)
    if kind == "fortnight":
        return _fortnight(day, fortnight_anchor)
    if kind == "month":
        return _month(day)
    if kind == "quarter":
        return _quarter(day)
    return _year(day)


def next_period(
    kind: PeriodKind,
    period: Period,
    *,
    week_start: int = 0,
    fortnight_anchor: date = DEFAULT_FORTNIGHT_ANCHOR,
) -> Period:
    """Return the recurring period of `kind` that follows `period`: where a recurring goal rolls over."""
    return period_containing(kind, period.last_day + _ONE_DAY, week_start=week_start, fortnight_anchor=fortnight_anchor)


def checkin_periods(period: Period, kind: CheckinKind, *, week_start: int = 0) -> list[Period]:
    """Split `period` into its check-ins (CONTRACT §4), each clipped to the period.

    `week` runs from `week_start`, `month` by calendar month, `fortnight` in 14-day steps from the
    period's first day. A check-in keeps its natural id (`2026-W48`, `2026-11`) unless clipping cut
    it short; then, like every fortnight, it is named `first..last`.
    """
    _check_week_start(week_start)
    checkins: list[Period] = []
    day = period.first_day
    while day <= period.last_day:
        if kind == "week":
            natural = _week(day, week_start)
        elif kind == "month":
            natural = _month(day)
        else:
            natural = _fortnight(day, period.first_day)
        first_day = max(natural.first_day, period.first_day)
        last_day = min(natural.last_day, period.last_day)
        clipped = (first_day, last_day) != (natural.first_day, natural.last_day)
        checkins.append(custom_period(first_day, last_day) if clipped else natural)
        day = last_day + _ONE_DAY
    return checkins
