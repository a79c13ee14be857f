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
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from syncd.engine.periods import Period, local_midnight
from syncd.engine.weights import BusinessDays, CustomWeights, Linear, PacingCurve, day_weights

__all__ = [
    "BusinessDays",
    "CustomWeights",
    "DayClock",
    "Direction",
    "Linear",
    "PaceFigures",
    "PaceStatus",
    "PacingCurve",
    "checkin_asks_nothing",
    "checkin_holding",
    "checkin_target",
    "day_clock",
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


def _quotient(numerator: int, denominator: int) -> float:
    """Return the figure numerator / denominator (denominator > 0), rounded once, then denoised.

    Every published figure goes through here. An int true division is correctly rounded, as
    `float(Fraction)` is (it divides the same way), without normalising a fraction at every step.
    """
    try:
        nearest = numerator / denominator
    except OverflowError:
        nearest = math.inf if numerator > 0 else -math.inf
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class DayClock:
    """E(t) for the instants of one local day: what does not move within the day, summed exactly once.

    Inside the period E(t) = before / W + w(today) / W × (microseconds since local midnight) / (the
    day's microseconds), an exact rational `offset + slope × µs`, rounded once as `float(Fraction)`.
    """

    start_us: int  # the period's start, UTC microseconds since the epoch
    deadline_us: int
    day_start_us: int  # local midnight of the day the clock is for
    offset: tuple[int, int]  # before / W, as numerator and (positive) denominator
    slope: tuple[int, int]  # w(today) / (W × the day's microseconds)

    def at(self, instant: datetime) -> float:
        """Return E(instant); `instant` must be aware and fall on the clock's day or outside the period."""
        if instant.utcoffset() is None:
            raise ValueError("elapsed_fraction needs an aware datetime")
        return self._at_micros(_micros(instant))

    def at_day_start(self) -> float:
        """Return E at the local midnight that starts the clock's day."""
        return self._at_micros(self.day_start_us)

    def _at_micros(self, now: int) -> float:
        if now <= self.start_us:
            return 0.0
        if now >= self.deadline_us:
            return 1.0
        (on, od), (sn, sd) = self.offset, self.slope
        return (on * sd + sn * (now - self.day_start_us) * od) / (od * sd)


def day_clock(period: Period, weights: Mapping[date, float], today: date, tz: ZoneInfo) -> DayClock:
    """Return the clock giving E(t) at the instants of `today` (a local day) for the period and curve."""
    start_us = _micros(period.start(tz))
    deadline_us = _micros(period.deadline(tz))
    day_start = _micros(local_midnight(today, tz))
    if not period.contains(today):
        return DayClock(start_us, deadline_us, day_start, (0, 1), (0, 1))
    day_length = _micros(local_midnight(today + _ONE_DAY, tz)) - day_start
    paced, total = _paced_weights(period, weights)
    offset = _exact_sum(weight for day, weight in paced.items() if day < today) / total
    slope = Fraction(paced[today]) / (total * day_length)
    return DayClock(
        start_us, deadline_us, day_start, (offset.numerator, offset.denominator), (slope.numerator, slope.denominator)
    )


def elapsed_fraction(period: Period, weights: Mapping[date, float], instant: datetime, tz: ZoneInfo) -> float:
    """Return E(t): the share of the period's weight behind `instant` (0 before start, 1 from the deadline).

    E(t) = (Σ w(d) over the days before today + w(today) × fraction of today elapsed) / Σ w(d).
    The fraction of today is measured in real seconds between local midnights, so a 25-hour DST day
    is 25 hours long. Sums are exact fractions, so E never decreases and hits 0 and 1 exactly.
    """
    if instant.utcoffset() is None:
        raise ValueError("elapsed_fraction needs an aware datetime")
    return day_clock(period, weights, instant.astimezone(tz).date(), tz).at(instant)


def checkin_target(target: float, checkin: Period, period: Period, weights: Mapping[date, float]) -> float:
    """Return a check-in's target: the period target × the check-in's share of the period's weight."""
    paced, total = _paced_weights(period, weights)
    share = _exact_sum(paced[day] for day in checkin.days()) / total
    exact = Fraction(target) * share
    return _quotient(exact.numerator, exact.denominator)


def checkin_asks_nothing(checkin: Period, weights: Mapping[date, float]) -> bool:
    """Say whether the curve asks nothing of the check-in (a clipped weekend, a holiday week).

    Its target is 0, and 0 of 0 would count as a hit for anyone: such a check-in is neither judged
    nor shown as the current one (docs/pace.md). A curve weighing the whole period nothing is paced
    linearly, which asks something of every day.
    """
    return not any(weights[day] for day in checkin.days()) and any(weights.values())


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


@lru_cache(maxsize=64)
def _band(tolerance: float) -> tuple[float, float]:
    # The band's edges are computed in decimal, so a pace of exactly 0.9 is on_pace at tolerance
    # 0.10 as the contract reads, whatever 1 − 0.1 makes in binary.
    return float(1 + Decimal(repr(tolerance))), float(1 - Decimal(repr(tolerance)))


def _status(
    value: float, target: float, pace_ratio: float, tolerance: float, direction: Direction = "at_least"
) -> PaceStatus:
    ahead_from, behind_below = _band(tolerance)
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


def _sign(number: int) -> int:
    return (number > 0) - (number < 0)


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
    # difference such as value − expected does not lose digits to an earlier rounding. Each float
    # is an integer over a power of two; every figure is a ratio of integers, denominators > 0.
    vn, vd = value.as_integer_ratio()
    tn, td = target.as_integer_ratio()
    en, ed = elapsed.as_integer_ratio()
    wn, wd = total_weight.as_integer_ratio()
    bn, bd = (0, 1) if baseline is None else baseline.as_integer_ratio()
    # expected = b + (t − b) × e
    xn = bn * td * ed + (tn * bd - bn * td) * en
    xd = bd * td * ed
    expected = _quotient(xn, xd)
    # v / x, with the sign carried by the numerator
    pace_ratio = 1.0 if xn == 0 else _quotient(vn * xd * _sign(xn), vd * abs(xn))
    progress_ratio = 1.0 if tn == 0 else _quotient(vn * td, vd * tn)
    projected = float(value) if en == 0 else _quotient(vn * ed, vd * en)

    # What is still to do: to rise to the target, or (at_most) to come down to it.
    rn = vn * td - tn * vd if direction == "at_most" else tn * vd - vn * td
    rn, rd = max(0, rn), vd * td
    # Working time left, W × (1 − E) = wn (ed − en) / (wd ed).
    no_time_left = wn == 0 or en == ed
    required_daily_rate = _quotient(rn, rd) if no_time_left else _quotient(rn * wd * ed, rd * wn * (ed - en))

    # (value − expected) / (target / W). A value within the rounding of `expected` counts as on the
    # curve, so the sign of buffer days always agrees with the published value − expected.
    pn, pd = expected.as_integer_ratio()
    if _sign(vn * xd - xn * vd) * _sign(vn * pd - pn * vd) <= 0:
        gn, gd = 0, 1
    else:
        gn, gd = vn * xd - xn * vd, vd * xd
    if direction == "at_most":
        gn = -gn  # under the curve is ahead when the goal is to stay under a level
    buffer_days = _quotient(gn * wn * td, gd * wd * tn) if tn > 0 and wn > 0 else 0.0

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
