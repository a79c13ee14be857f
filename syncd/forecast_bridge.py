"""Feed the forecast (syncd.forecast) the owner's own history for one goal at one instant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from syncd.forecast import daily_history, hit_probability
from syncd.periods import Period, custom_period
from syncd.weights import PacingCurve, day_weights

__all__ = ["TRAILING_HISTORY", "goal_hit_probability"]

# The owner's rate is learned from the period so far and the weeks just before it.
TRAILING_HISTORY = timedelta(weeks=8)


def goal_hit_probability(
    *,
    value: float,
    target: float,
    period: Period,
    curve: PacingCurve,
    total_weight: float,
    elapsed: float,
    daily: Mapping[date, float],
    instant: datetime,
    tz: ZoneInfo,
) -> float:
    """Return the chance the goal reaches its target by the deadline (docs/forecast.md)."""
    today = instant.astimezone(tz).date()
    trailing = custom_period(period.first_day - TRAILING_HISTORY, period.first_day - timedelta(days=1))
    weights = {**day_weights(trailing, curve), **day_weights(period, curve)}
    return hit_probability(
        value=value,
        target=target,
        remaining_weight=total_weight * (1 - elapsed),
        history=daily_history(daily, weights, today),
        planned_rate=target / total_weight if total_weight > 0 else 0.0,
    )
