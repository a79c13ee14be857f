"""Feed the forecast (syncd.engine.forecast) the owner's own history for one goal at one instant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from syncd.engine.forecast import daily_history, hit_probability
from syncd.engine.pace import DayClock, day_clock
from syncd.engine.periods import Period, custom_period
from syncd.engine.weights import PacingCurve, day_weights

__all__ = ["TRAILING_HISTORY", "goal_hit_probability", "remaining_weight"]

# The owner's rate is learned from the period so far and the weeks just before it.
TRAILING_HISTORY = timedelta(weeks=8)


def remaining_weight(total_weight: float, clock: DayClock) -> float:
    """Return W × (1 − E) at the start of the clock's day: the weight of that day and the days after it.

    Taken at the day's start, not at the instant, so the forecast moves with new counts and new days
    only and a tick where only time moved need not recompute it (docs/forecast.md). The reference and
    the fast evaluator both call this, with the same day clock.
    """
    return total_weight * (1 - clock.at_day_start())


def goal_hit_probability(
    *,
    value: float,
    target: float,
    period: Period,
    curve: PacingCurve,
    total_weight: float,
    daily: Mapping[date, float],
    instant: datetime,
    tz: ZoneInfo,
) -> float:
    """Return the chance the goal reaches its target by the deadline (docs/forecast.md).

    The answer is the same at every instant of a local day: new counts or a new day change it.
    """
    today = instant.astimezone(tz).date()
    # Days before the owner's first stored count are unknown, not idle: storage may simply not reach
    # back that far (a first sync reads from the period's start), so they do not teach a rate of 0.
    first_known = min((day for day, count in daily.items() if count > 0), default=period.first_day)
    history_start = max(period.first_day - TRAILING_HISTORY, min(first_known, period.first_day))
    weights = day_weights(period, curve)
    remaining = remaining_weight(total_weight, day_clock(period, weights, today, tz))
    if history_start < period.first_day:
        trailing = custom_period(history_start, period.first_day - timedelta(days=1))
        weights = {**day_weights(trailing, curve), **weights}
    return hit_probability(
        value=value,
        target=target,
        remaining_weight=remaining,
        history=daily_history(daily, weights, today),
        planned_rate=target / total_weight if total_weight > 0 else 0.0,
    )
