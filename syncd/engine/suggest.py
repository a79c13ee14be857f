"""Goal setting as a conversation: an owner's last periods and a proposed goal for the next (pure).

The proposal is the owner's own typical period, the median of the last (up to) three finished ones
so one outlier month neither inflates nor sinks it, scaled to the planned period's length: that is
the `committed` figure, and the target is it raised by the stretch (+30% unless told otherwise).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from syncd.engine.evaluate import flow_value, stock_value
from syncd.engine.periods import Period, checkin_periods
from syncd.model import CheckinKind, Kpi

__all__ = ["PastPeriod", "Suggestion", "past_period", "suggest"]

RECENT_PERIODS = 3


@dataclass(frozen=True)
class PastPeriod:
    """One finished period of the owner: what they reached and, against a target, how it went."""

    period: Period
    achieved: float | None  # None: nothing stored for the period (never synced), not zero
    target: float | None
    checkins_hit: int | None
    checkins_total: int | None

    @property
    def pace(self) -> float | None:
        """Return achieved / target, where a target is known."""
        return None if not self.target or self.achieved is None else self.achieved / self.target


@dataclass(frozen=True)
class Suggestion:
    """The proposed goal for the planned period."""

    period: Period
    committed: float | None
    stretch: float
    basis: tuple[PastPeriod, ...]
    kind: str = "month"

    @property
    def target(self) -> float | None:
        """Return the committed figure raised by the stretch."""
        return None if self.committed is None else self.committed * (1 + self.stretch)


def past_period(
    kpi: Kpi,
    by_subject: Mapping[str, Mapping[date, float]],
    subjects: frozenset[str] | None,
    period: Period,
    *,
    target: float | None,
    checkins: CheckinKind | None,
    week_start: int,
) -> PastPeriod:
    """Return what the owner reached in `period`, and how many check-ins they hit against `target`."""
    if not any(period.first_day <= day <= period.last_day for days in by_subject.values() for day in days):
        return PastPeriod(period, None, target, None, None)
    if kpi.kind == "stock":
        achieved = stock_value(by_subject, subjects, period.last_day)
    else:
        achieved = flow_value(by_subject, subjects, period.first_day, period.last_day)
    hit: int | None = None
    total: int | None = None
    if target and checkins and kpi.kind == "flow":
        subs = checkin_periods(period, checkins, week_start=week_start)
        length = len(period.days())
        hit = sum(
            1
            for sub in subs
            if flow_value(by_subject, subjects, sub.first_day, sub.last_day) >= target * len(sub.days()) / length
        )
        total = len(subs)
    return PastPeriod(period, achieved, target, hit, total)


def suggest(
    past: Sequence[PastPeriod], planned: Period, *, stretch: float, stock: bool = False, kind: str = "month"
) -> Suggestion:
    """Propose the planned period's committed figure from the most recent finished periods.

    A flow is compared per day (periods differ in length); a stock is a level, taken as it is.
    """
    recent = [p.achieved for p in past if p.achieved][-RECENT_PERIODS:]
    lengths = [len(p.period.days()) for p in past if p.achieved][-RECENT_PERIODS:]
    if not recent:
        return Suggestion(planned, None, stretch, tuple(past), kind)
    if stock:
        return Suggestion(planned, statistics.median(recent), stretch, tuple(past), kind)
    typical = statistics.median(value / length for value, length in zip(recent, lengths, strict=True))
    return Suggestion(planned, typical * len(planned.days()), stretch, tuple(past), kind)
