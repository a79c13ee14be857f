"""The `history` pacing curve: weights learned from the owner's own daily counts.

Preference order: the same period last year (shifted by 52 weeks, so weekdays line up); else the
weekday pattern of the 8 weeks before the period starts; else, with too little history,
`business_days`. The curve is learned from days before the period only, so it does not move
while the period runs and E(t) stays monotone. docs/pace.md has the worked example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from syncd.engine.periods import Period
from syncd.engine.weights import BusinessDays, PacingCurve

__all__ = ["HISTORY_LOOKBACK", "MIN_HISTORY_EVENTS", "LearnedWeights", "learned_curve"]

# Fewer events than this cannot tell a pattern from noise.
MIN_HISTORY_EVENTS = 20
TRAILING_WEEKS = 8
ONE_YEAR_OF_WEEKS = timedelta(weeks=52)
# How far back counts must be loaded for a history curve: last year's period plus its length.
HISTORY_LOOKBACK = timedelta(days=366 + 31 * 12)


@dataclass(frozen=True)
class LearnedWeights:
    """A curve given as one weight per day (days not listed weigh 0)."""

    weights: Mapping[date, float]

    def weight(self, day: date) -> float:
        """Return the learned weight of `day`."""
        return self.weights.get(day, 0.0)


def learned_curve(
    period: Period, daily_counts: Mapping[date, float], holidays: frozenset[date]
) -> tuple[PacingCurve, str]:
    """Return the curve learned from `daily_counts` (the owner's, by local day) and how it was learned."""
    last_year = {day: daily_counts.get(day - ONE_YEAR_OF_WEEKS, 0.0) for day in period.days()}
    last_year_first = period.first_day - ONE_YEAR_OF_WEEKS
    if sum(last_year.values()) >= MIN_HISTORY_EVENTS:
        weights = {day: (0.0 if day in holidays else w) for day, w in last_year.items()}
        return LearnedWeights(weights), f"history: the same period last year (from {last_year_first.isoformat()})"

    trailing_start = period.first_day - timedelta(weeks=TRAILING_WEEKS)
    per_weekday = [0.0] * 7
    total = 0.0
    for offset in range(TRAILING_WEEKS * 7):
        day = trailing_start + timedelta(days=offset)
        count = daily_counts.get(day, 0.0)
        per_weekday[day.weekday()] += count
        total += count
    if total >= MIN_HISTORY_EVENTS:
        mean = total / 7
        weights = {day: 0.0 if day in holidays else per_weekday[day.weekday()] / mean for day in period.days()}
        return (
            LearnedWeights(weights),
            f"history: the weekday pattern of the {TRAILING_WEEKS} weeks from {trailing_start.isoformat()}",
        )
    return (
        BusinessDays(holidays=holidays),
        f"history: too little history ({total:.0f} events in {TRAILING_WEEKS} weeks), paced on business_days",
    )
