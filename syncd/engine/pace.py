"""Goal pace: the pure maths of CONTRACT §4, from days, weights and counts to the published figures.

No I/O and no clock: every function takes the instant it is asked about. Choices the contract leaves
open are documented in docs/pace.md and named where they are made below.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

from syncd.engine.periods import Period, local_midnight
from syncd.engine.weights import BusinessDays, CustomWeights, Linear, PacingCurve, day_weights

__all__ = [
    "BusinessDays",
    "CustomWeights",
    "Direction",
    "Linear",
    "PaceFigures",
    "PaceStatus",
    "PacingCurve",
    "checkin_holding",
    "checkin_target",
    "day_weights",
    "elapsed_fraction",
    "flow_value",
    "pace_figures",
    "period_weight",
    "stock_value",
    "stretched_target",
]

PaceStatus = Literal["achieved", "ahead", "on_pace", "behind"]
Direction = Literal["at_least", "at_most"]

_ONE_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
# Figures are rounded to 15 significant digits: a double carries 15.9, so this only strips the last
# bits of binary noise; 300 × 0.3 is published as 90, not 89.99999999999999.
_SIGNIFICANT_DIGITS = 15


def _rounded(number: Fraction) -> float:
    try:
        nearest = float(number)
    except OverflowError:
        nearest = math.inf if number > 0 else -math.inf
    denoised = float(f"{nearest:.{_SIGNIFICANT_DIGITS}g}")
    # Only a vanishing E makes value / E this large; saturate, as JSON cannot carry inf.
    return denoised if math.isfinite(denoised) else math.copysign(sys.float_info.max, denoised)


def _exact_sum(weights: Iterable[float]) -> Fraction:
    # Exact, yet fast over a year of days: a curve has few distinct weights.
    return sum((Fraction(weight) * count for weight, count in Counter(weights).items()), Fraction(0))


def _paced_weights(period: Period, weights: Mapping[date, float]) -> tuple[dict[date, float], Fraction]:
    # A curve that gives the whole period no weight says nothing about pace: fall back to linear,
    # so E still runs from 0 to 1 and W is the number of days (docs/pace.md, "zero weight").
    paced = {day: weights[day] for day in period.days()}
    total = _exact_sum(paced.values())
    if total == 0:
        return dict.fromkeys(paced, 1.0), Fraction(len(paced))
    return paced, total


def period_weight(period: Period, weights: Mapping[date, float]) -> float:
    """Return W, the period's total weight (its number of days when the curve weighs nothing)."""
    return float(_paced_weights(period, weights)[1])


def elapsed_fraction(period: Period, weights: Mapping[date, float], instant: datetime, tz: ZoneInfo) -> float:
    """Return E(t): the share of the period's weight behind `instant` (0 before start, 1 from the deadline).

    E(t) = (Σ w(d) over the days before today + w(today) × fraction of today elapsed) / Σ w(d).
    The fraction of today is measured in real seconds between local midnights, so a 25-hour DST day
    is 25 hours long. Sums are exact fractions, so E never decreases and hits 0 and 1 exactly.
    """
    if instant.utcoffset() is None:
        raise ValueError("elapsed_fraction needs an aware datetime")
    # Compare and subtract in UTC: two datetimes sharing a ZoneInfo subtract as wall clocks.
    now = instant.astimezone(UTC)
    if now <= period.start(tz).astimezone(UTC):
        return 0.0
    if now >= period.deadline(tz).astimezone(UTC):
        return 1.0
    today = now.astimezone(tz).date()
    day_start = local_midnight(today, tz).astimezone(UTC)
    day_end = local_midnight(today + _ONE_DAY, tz).astimezone(UTC)
    today_elapsed = Fraction((now - day_start) // _MICROSECOND, (day_end - day_start) // _MICROSECOND)

    paced, total = _paced_weights(period, weights)
    before_today = _exact_sum(weight for day, weight in paced.items() if day < today)
    return float((before_today + Fraction(paced[today]) * today_elapsed) / total)


def checkin_target(target: float, checkin: Period, period: Period, weights: Mapping[date, float]) -> float:
    """Return a check-in's target: the period target × the check-in's share of the period's weight."""
    paced, total = _paced_weights(period, weights)
    share = _exact_sum(paced[day] for day in checkin.days()) / total
    return _rounded(Fraction(target) * share)


def checkin_holding(checkins: Iterable[Period], day: date) -> Period | None:
    """Return the check-in that holds `day`, or None when the day is outside them all."""
    return next((checkin for checkin in checkins if checkin.contains(day)), None)


def flow_value(daily_counts: Mapping[date, float], period: Period, today: date) -> float:
    """Return a flow KPI's value: the sum of the period's daily counts up to and including `today`."""
    return math.fsum(count for day, count in daily_counts.items() if period.contains(day) and day <= today)


def stock_value(levels: Mapping[date, float], today: date) -> float | None:
    """Return a stock KPI's value: the latest level on or before `today`, or None when there is none."""
    days = [day for day in levels if day <= today]
    return levels[max(days)] if days else None


def stretched_target(committed: float, stretch: float) -> float:
    """Return committed × (1 + stretch), computed in decimal so 300 raised by 0.30 is exactly 390."""
    return float(Decimal(repr(committed)) * (1 + Decimal(repr(stretch))))


@dataclass(frozen=True)
class PaceFigures:
    """The figures CONTRACT §4 defines for one goal at one instant."""

    expected: float
    pace_ratio: float
    progress_ratio: float
    elapsed_ratio: float
    projected: float
    required_daily_rate: float
    buffer_days: float
    status: PaceStatus


def _status(
    value: float, target: float, pace_ratio: float, tolerance: float, direction: Direction = "at_least"
) -> PaceStatus:
    # The band's edges are computed in decimal, so a pace of exactly 0.9 is on_pace at tolerance
    # 0.10 as the contract reads, whatever 1 − 0.1 makes in binary.
    ahead_from = float(1 + Decimal(repr(tolerance)))
    behind_below = float(1 - Decimal(repr(tolerance)))
    if direction == "at_most":
        # Staying under a level: a value below the curve is ahead (docs/pace.md, "at_most").
        if value <= target:
            return "achieved"
        if pace_ratio <= behind_below:
            return "ahead"
        if pace_ratio > ahead_from:
            return "behind"
        return "on_pace"
    if value >= target:
        return "achieved"
    if pace_ratio >= ahead_from:
        return "ahead"
    if pace_ratio < behind_below:
        return "behind"
    return "on_pace"


def _check_inputs(value: float, target: float, elapsed: float, total_weight: float, tolerance: float) -> None:
    if not all(math.isfinite(x) for x in (value, target, elapsed, total_weight, tolerance)):
        raise ValueError("pace figures need finite numbers")
    if not 0.0 <= elapsed <= 1.0:
        raise ValueError(f"elapsed fraction must be within 0..1, not {elapsed}")
    if total_weight < 0 or target < 0 or tolerance < 0:
        raise ValueError("target, total weight and tolerance must not be negative")


def pace_figures(
    *,
    value: float,
    target: float,
    elapsed: float,
    total_weight: float,
    tolerance: float = 0.10,
    baseline: float | None = None,
    direction: Direction = "at_least",
) -> PaceFigures:
    """Compute a goal's pace figures from its value, target, E(t) and W (CONTRACT §4).

    Divisions the contract leaves undefined never produce inf or NaN (JSON cannot carry them):
    progress ratio is 1 when the target is 0; the required daily rate is the whole remaining amount
    when no working time is left (W × (1 − E) = 0); buffer days are 0 when target / W is 0 or undefined.
    """
    _check_inputs(value, target, elapsed, total_weight, tolerance)
    # Exact arithmetic on the given floats, rounded once per figure: no error piles up, and a
    # difference such as value − expected does not lose digits to an earlier rounding.
    v, t, e, w = (Fraction(x) for x in (value, target, elapsed, total_weight))
    paced_from = Fraction(0) if baseline is None else Fraction(baseline)
    expected_exact = paced_from + (t - paced_from) * e
    expected = _rounded(expected_exact)
    pace_ratio = 1.0 if expected_exact == 0 else _rounded(v / expected_exact)
    progress_ratio = 1.0 if t == 0 else _rounded(v / t)
    projected = float(value) if e == 0 else _rounded(v / e)

    # What is still to do: to rise to the target, or (at_most) to come down to it.
    remaining = max(Fraction(0), v - t if direction == "at_most" else t - v)
    working_time_left = w * (1 - e)
    required_daily_rate = _rounded(remaining if working_time_left == 0 else remaining / working_time_left)

    # (value − expected) / (target / W). A value within the rounding of `expected` counts as on the
    # curve, so the sign of buffer days always agrees with the published value − expected.
    low, high = sorted((expected_exact, Fraction(expected)))
    gap = Fraction(0) if low <= v <= high else v - expected_exact
    if direction == "at_most":
        gap = -gap  # under the curve is ahead when the goal is to stay under a level
    buffer_days = _rounded(gap * w / t) if t > 0 and w > 0 else 0.0

    return PaceFigures(
        expected=expected,
        pace_ratio=pace_ratio,
        progress_ratio=progress_ratio,
        elapsed_ratio=elapsed,
        projected=projected,
        required_daily_rate=required_daily_rate,
        buffer_days=buffer_days,
        status=_status(value, target, pace_ratio, tolerance, direction),
    )
