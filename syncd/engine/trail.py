"""A goal's day-by-day path for people: actual so far against the expected curve (pure).

The status page draws it as a sparkline. Both series are cumulative, at the end of each day of the
period: `expected` for every day, `actual` for the days up to today.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from datetime import date
from itertools import accumulate
from typing import Protocol

from syncd.engine.periods import Period

__all__ = ["GoalTrail", "RunningTotals", "actual_trail", "expected_trail", "goal_trail"]


class RunningTotals(Protocol):
    """Counts that give their running total at the end of each day of a run of days (series.DaySeries)."""

    def running(self, first: date, last: date) -> array[float]: ...


class GoalTrail:
    """Cumulative expected (every day) and actual (days so far) values of one goal's period.

    `actual` is packed doubles, or worked out when read from running totals the evaluation holds
    anyway: only the status page reads it, and 10,000 goals' trails kept as arrays were 5 MB.
    """

    __slots__ = ("_actual", "_read", "expected")

    def __init__(
        self,
        expected: tuple[float, ...],
        actual: array[float] | None = None,
        *,
        totals: RunningTotals | None = None,
        first: date | None = None,
        last: date | None = None,
    ) -> None:
        self.expected = expected  # shared by the goals of one period, curve and target
        self._actual = actual
        self._read: tuple[RunningTotals, date, date] | None = None
        if actual is None:
            if totals is None or first is None or last is None:
                raise ValueError("a trail needs its actual values or the running totals and days to read them from")
            self._read = (totals, first, last)

    @property
    def actual(self) -> array[float]:
        """The value at the end of each day so far."""
        if self._actual is not None:
            return self._actual
        assert self._read is not None  # __init__ saw to it
        totals, first, last = self._read
        return totals.running(first, last)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GoalTrail):
            return NotImplemented
        return self.expected == other.expected and self.actual == other.actual

    __hash__ = None  # type: ignore[assignment]  # equal by values, as the frozen dataclass it replaces

    def __repr__(self) -> str:
        return f"GoalTrail(expected={self.expected!r}, actual={self.actual!r})"


def goal_trail(
    period: Period,
    weights: Mapping[date, float],
    target: float,
    *,
    through: date,
    daily: Mapping[date, float] | None = None,
    levels: Mapping[date, float] | None = None,
    baseline: float | None = None,
) -> GoalTrail:
    """Return the trail of a flow (from `daily` counts) or a stock (from `levels`, the level each day)."""
    days = period.days()
    return GoalTrail(
        expected_trail(days, weights, target, baseline), actual_trail(days, through, daily=daily, levels=levels)
    )


def expected_trail(
    days: Sequence[date], weights: Mapping[date, float], target: float, baseline: float | None
) -> tuple[float, ...]:
    """Return the expected value at the end of each day: the same for every goal of a period, curve and target."""
    total = sum(weights.get(day, 0.0) for day in days)
    start = baseline or 0.0
    expected: list[float] = []
    share = 0.0
    for day in days:
        share += weights.get(day, 0.0)
        expected.append(start + (target - start) * (share / total if total else 0.0))
    return tuple(expected)


def actual_trail(
    days: Sequence[date],
    through: date,
    *,
    daily: Mapping[date, float] | None = None,
    levels: Mapping[date, float] | None = None,
) -> array[float]:
    """Return the value at the end of each day up to `through`: running counts, or the level each day."""
    so_far = [day for day in days if day <= through] if days and days[-1] > through else days
    if levels is not None:
        actual: list[float] = []
        running = 0.0
        for day in so_far:
            running = levels.get(day, running)
            actual.append(running)
        return array("d", actual)
    counts = daily or {}
    # Running sums from 0.0, added in day order (the first value is 0.0 + the first count).
    running_sums = accumulate((counts.get(day, 0.0) for day in so_far), initial=0.0)
    next(running_sums)
    return array("d", running_sums)
