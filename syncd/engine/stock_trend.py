"""Stock KPIs (levels: backlinks held, followers) projected by their trend, not by value / E (pure).

A level does not accumulate like a flow, so `value / E(t)` says nothing about where it will end.
The level is fitted by ordinary least squares against time over the period's observations (the last
level before the period stands at its start), and everything else follows from the line:

- projected: the line at the deadline;
- buffer days: how many days of the change the goal asks for per day, (target − start) / N, the
  projection finishes ahead (+) or short (−) of the target;
- required daily change: what is left to gain (or, at_most, to shed), per calendar day left;
- hit probability: the chance the level at the deadline is on the right side of the target, from
  the fit's prediction interval (a normal approximation with the residual spread).

With fewer than two observations there is no trend: the level itself is the projection and no
probability is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from syncd.engine.periods import Period

__all__ = ["StockTrend", "chosen_level_series", "level_on", "level_series", "stock_trend"]

# A perfect fit has no residual spread; its probability is kept off 0 and 1 all the same.
_MIN_PROBABILITY, _MAX_PROBABILITY = 0.01, 0.99


@dataclass(frozen=True)
class StockTrend:
    """What a stock goal's level trend says at one instant."""

    projected: float
    slope_per_day: float
    buffer_days: float
    required_daily_change: float
    hit_probability: float | None
    points: int


def level_series(
    by_subject: Mapping[str, Mapping[date, float]], subjects: frozenset[str] | None, period: Period, through: date
) -> list[tuple[float, float]]:
    """Return (days since the period's start, summed level) points: the level before it at 0, then each day.

    A day's level is read at its end (t = day index + 1); every subject counts with its latest level.
    """
    chosen = [days for subject, days in by_subject.items() if subjects is None or subject.casefold() in subjects]
    return chosen_level_series(chosen, period, through)


def chosen_level_series(
    chosen: Sequence[Mapping[date, float]], period: Period, through: date
) -> list[tuple[float, float]]:
    """Return `level_series` of the chosen subjects' day maps, in the order `by_subject` holds them."""
    observed = sorted({day for days in chosen for day in days if day <= through})
    points: list[tuple[float, float]] = []
    before = [day for day in observed if day < period.first_day]
    if before:
        points.append((0.0, level_on(chosen, before[-1])))
    for day in observed:
        if day >= period.first_day:
            points.append((float((day - period.first_day).days + 1), level_on(chosen, day)))
    return points


def level_on(chosen: Iterable[Mapping[date, float]], day: date) -> float:
    """Return the summed level of the chosen subjects on `day`: each one's latest level on or before it.

    The one definition of a stock's value on a day, for the reference (`evaluate.stock_value`), the
    level series and the fast evaluator; summed in the subjects' order, so all agree to the last bit.
    """
    total = 0.0
    for days in chosen:
        known = [d for d in days if d <= day]
        if known:
            total += days[max(known)]
    return total


def stock_trend(
    points: list[tuple[float, float]],
    *,
    value: float,
    target: float,
    baseline: float | None,
    period_days: float,
    elapsed_days: float,
    at_most: bool = False,
) -> StockTrend:
    """Project the level to the period's end (t = period_days) and derive the goal's figures."""
    days_left = max(0.0, period_days - elapsed_days)
    start = baseline if baseline is not None else (points[0][1] if points else value)
    asked_per_day = abs(target - start) / period_days if period_days > 0 else 0.0
    remaining = max(0.0, value - target) if at_most else max(0.0, target - value)
    required = remaining if days_left == 0 else remaining / days_left
    if len(points) < 2:
        projected, slope, probability = value, 0.0, None
    else:
        slope, intercept, spread = _fit(points)
        projected = intercept + slope * period_days
        probability = _probability(points, slope, spread, projected, target, period_days, at_most)
    ahead = (target - projected) if at_most else (projected - target)
    buffer = 0.0 if asked_per_day == 0 else ahead / asked_per_day
    return StockTrend(projected, slope, buffer, required, probability, len(points))


def _fit(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Return slope, intercept and the residual standard deviation of the least-squares line."""
    n = len(points)
    mean_t = math.fsum(t for t, _ in points) / n
    mean_y = math.fsum(y for _, y in points) / n
    sxx = math.fsum((t - mean_t) ** 2 for t, _ in points)
    if sxx == 0:
        return 0.0, mean_y, 0.0
    slope = math.fsum((t - mean_t) * (y - mean_y) for t, y in points) / sxx
    intercept = mean_y - slope * mean_t
    if n < 3:
        return slope, intercept, 0.0
    residuals = math.fsum((y - (intercept + slope * t)) ** 2 for t, y in points)
    return slope, intercept, math.sqrt(residuals / (n - 2))


def _probability(
    points: list[tuple[float, float]],
    slope: float,
    spread: float,
    projected: float,
    target: float,
    at: float,
    at_most: bool,
) -> float | None:
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = math.fsum(t for t, _ in points) / n
    sxx = math.fsum((t - mean_t) ** 2 for t, _ in points)
    # The level at the deadline is one new observation: the line's uncertainty plus the scatter.
    se = spread * math.sqrt(1 + 1 / n + ((at - mean_t) ** 2 / sxx if sxx else 0.0))
    if se == 0:
        hit = projected <= target if at_most else projected >= target
        return _MAX_PROBABILITY if hit else _MIN_PROBABILITY
    z = (target - projected) / se
    below = 0.5 * (1 + math.erf(z / math.sqrt(2)))  # P(level at the deadline < target)
    probability = below if at_most else 1 - below
    return min(_MAX_PROBABILITY, max(_MIN_PROBABILITY, probability))
