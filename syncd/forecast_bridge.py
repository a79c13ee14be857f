"""Feed the forecast (syncd.forecast) the owner's own history for one goal at one instant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from syncd.periods import Period

__all__ = ["goal_hit_probability"]


def goal_hit_probability(
    *,
    value: float,
    target: float,
    period: Period,
    weights: Mapping[date, float],
    daily: Mapping[date, float],
    instant: datetime,
    tz: ZoneInfo,
) -> float | None:
    """Return the chance the goal reaches its target by the deadline (not wired yet)."""
    return None
