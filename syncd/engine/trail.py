"""A goal's day-by-day path for people: actual so far against the expected curve (pure).

The status page draws it as a sparkline. Both series are cumulative, at the end of each day of the
period: `expected` for every day, `actual` for the days up to today.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from syncd.engine.periods import Period

__all__ = ["GoalTrail", "actual_trail", "expected_trail", "goal_trail"]


@dataclass(frozen=True)
class GoalTrail:
    """Cumulative expected (every day) and actual (days so far) values of one goal's period."""

    expected: tuple[float, ...]  # shared by the goals of one period, curve and target
    # Packed doubles, one trail per goal: at 10,000 goals a tuple of float objects was 15 MB.
    actual: array[float]


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
