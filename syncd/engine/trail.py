"""A goal's day-by-day path for people: actual so far against the expected curve (pure).

The status page draws it as a sparkline. Both series are cumulative, at the end of each day of the
period: `expected` for every day, `actual` for the days up to today.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from syncd.engine.periods import Period

__all__ = ["GoalTrail", "goal_trail"]


@dataclass(frozen=True)
class GoalTrail:
    """Cumulative expected (every day) and actual (days so far) values of one goal's period."""

    expected: tuple[float, ...]
    actual: tuple[float, ...]


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
    total = sum(weights.get(day, 0.0) for day in days)
    start = baseline or 0.0
    expected: list[float] = []
    share = 0.0
    for day in days:
        share += weights.get(day, 0.0)
        expected.append(start + (target - start) * (share / total if total else 0.0))
    actual: list[float] = []
    running = 0.0
    for day in days:
        if day > through:
            break
        if levels is not None:
            running = levels.get(day, running)
        else:
            running += (daily or {}).get(day, 0.0)
        actual.append(running)
    return GoalTrail(tuple(expected), tuple(actual))
