"""Goal forecast: the chance a flow goal reaches its target by the deadline (`syncd_goal_hit_probability`).

Pure maths, no I/O and no clock. The owner's counts per unit of pacing weight are a negative binomial
(an over-dispersed Poisson) whose rate and dispersion come from their own daily counts by moments,
shrunk toward a weak prior; the forecast is the chance that what the remaining weight brings covers
what the target still needs. docs/forecast.md derives it with a worked example.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import repeat
from operator import mul, sub, truediv

__all__ = [
    "DISPERSION_PRIOR",
    "DISPERSION_PRIOR_DF",
    "PRIOR_COUNTS",
    "RateEstimate",
    "RemainingCounts",
    "daily_history",
    "estimate_from_blocks",
    "estimate_rate",
    "hit_probability",
    "hit_probability_given",
    "negative_binomial_survival",
    "regularized_beta",
    "remaining_counts",
]

# The rate prior is worth this many counts: a gamma of shape 4 says the owner's rate is within about a
# factor of two of the plan (coefficient of variation 1 / sqrt(4)), and a few days of the owner's own
# counts outweigh it.
PRIOR_COUNTS = 4.0
# Activity counts (sends, messages, sign-ups) come in bursts: variance about twice the mean is the
# prior guess, worth four days of evidence, so a few quiet days cannot make the forecast overconfident.
DISPERSION_PRIOR = 2.0
DISPERSION_PRIOR_DF = 4.0

# The continued fraction converges in O(sqrt(max(a, b))) steps; this covers sizes past 10**9.
_MAX_FRACTION_STEPS = 200_000
_FRACTION_EPSILON = 1e-15
_FLOOR = 1e-300
# Counts are whole; a gap that misses a whole number only by float noise (390.00000000000006) is not
# one count more.
_NOISE = 1e-9


# Above this, log-gamma differences go through Stirling's series: subtracting two log-gammas of 10**8
# would otherwise leave only seven good digits.
_STIRLING_FROM = 10.0
_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def _stirling_remainder(z: float) -> float:
    # lgamma(z) − ((z − ½) ln z − z + ½ ln 2π); four terms are good to 1e-12 from z = 10.
    inverse = 1.0 / z
    square = inverse * inverse
    return inverse * (1.0 / 12.0 - square * (1.0 / 360.0 - square * (1.0 / 1260.0 - square / 1680.0)))


def _log_gamma_ratio(big: float, small: float) -> float:
    # lgamma(big) − lgamma(big + small), for big >= _STIRLING_FROM, without cancelling digits.
    total = big + small
    return (
        (big - 0.5) * math.log1p(-small / total)
        - small * math.log(total)
        + small
        + _stirling_remainder(big)
        - _stirling_remainder(total)
    )


def _log_power_terms(x: float, y: float, a: float, b: float) -> float:
    # ln(x^a y^b / B(a, b)), with y = 1 − x given separately so neither loses its small end.
    log_x = math.log1p(-y) if y < 0.5 else math.log(x)
    log_y = math.log1p(-x) if x < 0.5 else math.log(y)
    if min(a, b) >= _STIRLING_FROM:
        # Written around the mode: a ln(x (a+b)/a) + b ln(y (a+b)/b) are small where the result is not.
        total = a + b
        shift = (x * b - y * a) / total
        return (
            a * math.log1p(shift * total / a)
            + b * math.log1p(-shift * total / b)
            + 0.5 * math.log(a * b / total)
            - _HALF_LOG_TWO_PI
            - _stirling_remainder(a)
            - _stirling_remainder(b)
            + _stirling_remainder(total)
        )
    big, small = max(a, b), min(a, b)
    if big >= _STIRLING_FROM:
        log_beta = math.lgamma(small) + _log_gamma_ratio(big, small)
    else:
        log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    return a * log_x + b * log_y - log_beta


def _beta_fraction(x: float, a: float, b: float) -> tuple[float, bool]:
    # Lentz's evaluation of the continued fraction for I_x(a, b), and whether it converged; it
    # converges fast for x < (a + 1) / (a + b + 2), more slowly beyond. Each step's two terms are
    # written out (every goal's forecast runs this loop): the same operations in the same order.
    floor = _FLOOR
    numerator_c = 1.0
    denominator_d = 1.0 - (a + b) * x / (a + 1.0)
    denominator_d = 1.0 / (denominator_d if abs(denominator_d) > floor else floor)
    fraction = denominator_d
    for step in range(1, _MAX_FRACTION_STEPS):
        even = a + 2 * step  # a + 2m
        coefficient = step * (b - step) * x / ((even - 1.0) * even)
        denominator_d = 1.0 + coefficient * denominator_d
        denominator_d = 1.0 / (denominator_d if abs(denominator_d) > floor else floor)
        numerator_c = 1.0 + coefficient / numerator_c
        if not abs(numerator_c) > floor:
            numerator_c = floor
        fraction *= numerator_c * denominator_d
        coefficient = -(a + step) * (a + b + step) * x / (even * (even + 1.0))
        denominator_d = 1.0 + coefficient * denominator_d
        denominator_d = 1.0 / (denominator_d if abs(denominator_d) > floor else floor)
        numerator_c = 1.0 + coefficient / numerator_c
        if not abs(numerator_c) > floor:
            numerator_c = floor
        change = numerator_c * denominator_d
        fraction *= change
        if abs(change - 1.0) < _FRACTION_EPSILON:
            return fraction, True
    return fraction, False


def _regularized_beta(x: float, complement: float, a: float, b: float) -> float:
    # `complement` is 1 − x, passed separately so a probability near 1 keeps its digits.
    if x <= 0.0:
        return 0.0
    if complement <= 0.0:
        return 1.0
    front = math.exp(_log_power_terms(x, complement, a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        result = front * _beta_fraction(x, a, b)[0] / a
    else:
        result = 1.0 - front * _beta_fraction(complement, b, a)[0] / b
        if result < 0.5:
            # 1 − (something near 1) kept only its absolute digits; a tiny tail (a nearly certain
            # zero) needs its relative ones, or a larger threshold could score a hair higher.
            fraction, converged = _beta_fraction(x, a, b)
            if converged:
                result = front * fraction / a
    return min(1.0, max(0.0, result))


def regularized_beta(x: float, a: float, b: float) -> float:
    """Return I_x(a, b), the regularized incomplete beta function, for 0 <= x <= 1 and a, b > 0."""
    if not (a > 0.0 and b > 0.0 and 0.0 <= x <= 1.0) or not math.isfinite(a + b):
        raise ValueError(f"regularized_beta needs 0 <= x <= 1 and finite a, b > 0, not {x}, {a}, {b}")
    return _regularized_beta(x, 1.0 - x, a, b)


def negative_binomial_survival(count: int, *, size: float, success: float) -> float:
    """Return P(S >= count) for S negative binomial: failures before the `size`-th success.

    `size` may be any positive real; the mean is size × (1 − success) / success. Uses
    P(S >= n) = I_{1−success}(n, size), so the whole tail costs one continued fraction.
    """
    if not (size > 0.0 and math.isfinite(size) and 0.0 < success <= 1.0):
        raise ValueError(f"negative binomial needs size > 0 and 0 < success <= 1, not {size}, {success}")
    if count <= 0:
        return 1.0
    return _regularized_beta(1.0 - success, success, float(count), size)


@dataclass(frozen=True)
class RateEstimate:
    """What the owner's history and the prior say about their counts per unit of pacing weight.

    `rate` is the posterior mean, `dispersion` the variance-to-mean ratio of one unit of weight
    (1 is Poisson), and `weight` the evidence behind the rate: the prior's weight plus the history's.
    """

    rate: float
    dispersion: float
    weight: float


@dataclass(frozen=True)
class RemainingCounts:
    """The negative binomial the remaining weight brings: mean, size and success probability."""

    mean: float
    size: float
    success: float


def _check_finite(name: str, number: float) -> None:
    if not math.isfinite(number) or number < 0.0:
        raise ValueError(f"{name} must be a finite number >= 0, not {number}")


def _weighted_blocks(history: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    # A day the curve gives no weight (a weekend, a holiday) still shows work: its counts join the
    # nearest earlier weighted day, or the first later one, so the rate per unit of weight includes
    # that spill-over and the remaining weight carries it forward in the same proportion.
    blocks: list[tuple[float, float]] = []
    carried = 0.0
    for count, weight in history:
        _check_finite("a history count", count)
        _check_finite("a history weight", weight)
        if weight > 0.0:
            blocks.append((count + carried, weight))
            carried = 0.0
        elif blocks:
            last_count, last_weight = blocks[-1]
            blocks[-1] = (last_count + count, last_weight)
        else:
            carried += count
    return blocks


def estimate_rate(history: Sequence[tuple[float, float]], *, planned_rate: float) -> RateEstimate:
    """Estimate the owner's rate and dispersion from (count, weight) per past day, in day order.

    The dispersion D is Pearson's moment estimate X² / (n − 1), shrunk toward DISPERSION_PRIOR and
    never below 1. The rate is a gamma-Poisson posterior mean with counts worth 1 / D each: a gamma
    prior of shape PRIOR_COUNTS whose median is `planned_rate`, updated by the history.
    """
    _check_finite("planned_rate", planned_rate)
    blocks = _weighted_blocks(history)
    # As doubles, whatever numbers the history holds (an int weight is converted as a float array would).
    weights = [float(weight) for _, weight in blocks]
    return estimate_from_blocks(
        [float(count) for count, _ in blocks],
        weights,
        total_weight=math.fsum(weights),
        planned_rate=planned_rate,
    )


def _quotient(dividend: float, divisor: float) -> float:
    # IEEE division where Python raises: x / 0.0 is NaN for x 0 or NaN, else an infinity.
    if divisor == 0.0 and (dividend == 0.0 or math.isnan(dividend)):
        return math.nan
    if divisor == 0.0:
        return math.copysign(math.inf, dividend) * math.copysign(1.0, divisor)
    return dividend / divisor


def estimate_from_blocks(
    counts: Sequence[float],
    weights: Sequence[float],
    *,
    total_weight: float,
    planned_rate: float,
    total_count: float | None = None,
) -> RateEstimate:
    """Return `estimate_rate` given its weighted blocks: counts and weights (> 0) as floats, and Σ weights.

    The one place the estimate is computed, for a history (`estimate_rate`) and for block sums taken
    from running totals (syncd.engine.fast_evaluate): each term is the same IEEE operations on the
    same doubles whatever the length, and fsum is exact in any order, so both give the same bits.
    `total_count`, when given, must be `math.fsum` of the counts (running totals know it already).
    """
    if total_count is None:
        total_count = math.fsum(counts)
    pearson = 0.0
    degrees = 0
    if total_count > 0.0 and len(counts) >= 2:
        observed_rate = total_count / total_weight
        # Term by term (d = count − expected): d × d / expected, each product and quotient rounded
        # on its own, as elementwise array arithmetic rounds them; the maps run in C.
        expected = list(map(mul, repeat(observed_rate), weights))
        deviation = list(map(sub, counts, expected))
        squares = map(mul, deviation, deviation)
        try:
            pearson = math.fsum(map(truediv, squares, expected))
        except ZeroDivisionError:  # an expected count that underflowed to 0
            pearson = math.fsum(map(_quotient, map(mul, deviation, deviation), expected))
        degrees = len(counts) - 1
    # Under-dispersed counts are modelled as Poisson: the model has no thinner tail than that.
    dispersion = max(1.0, (pearson + DISPERSION_PRIOR_DF * DISPERSION_PRIOR) / (degrees + DISPERSION_PRIOR_DF))
    if planned_rate > 0.0:
        # Gamma(shape a, rate b) has its median near (a − 1/3) / b: put the plan there, so a new
        # owner is as likely to beat it as to miss it. In units of counts worth 1 / D each, the
        # prior is D × a counts over D × b of weight.
        prior_counts = dispersion * PRIOR_COUNTS
        prior_weight = dispersion * (PRIOR_COUNTS - 1.0 / 3.0) / planned_rate
    else:
        prior_counts = prior_weight = 0.0
    evidence = prior_weight + total_weight
    rate = (prior_counts + total_count) / evidence if evidence > 0.0 else 0.0
    return RateEstimate(rate=rate, dispersion=dispersion, weight=evidence)


def remaining_counts(estimate: RateEstimate, remaining_weight: float) -> RemainingCounts:
    """Return the negative binomial of the counts `remaining_weight` brings under `estimate`.

    Mean m = rate × R. Variance D × m from the process plus R² × Var(rate) = D × m × R / evidence
    from not knowing the rate exactly; matching both moments gives success = 1 / (D × (1 + R /
    evidence)) and size = m / (1 / success − 1).
    """
    _check_finite("remaining_weight", remaining_weight)
    mean = estimate.rate * remaining_weight
    if mean == 0.0:
        return RemainingCounts(mean=0.0, size=math.inf, success=1.0)
    # 1 / success − 1, written so no digits cancel when the dispersion is 1 and R is small.
    excess = (estimate.dispersion - 1.0) + estimate.dispersion * remaining_weight / estimate.weight
    inflation = 1.0 + excess
    return RemainingCounts(mean=mean, size=mean / excess if excess > 0.0 else math.inf, success=1.0 / inflation)


def hit_probability(
    *,
    value: float,
    target: float,
    remaining_weight: float,
    history: Sequence[tuple[float, float]],
    planned_rate: float,
) -> float:
    """Return the chance a flow goal's value reaches `target` by the deadline, in [0, 1].

    `remaining_weight` is W × (1 − E(t)): the pacing weight still ahead, today's unelapsed part
    included. `history` is (count, weight) for each whole past day, in day order: the period so far
    without today, plus any trailing history. `planned_rate` centres the prior: target / W for a goal.
    With everything else fixed the result never decreases as `value` grows and never increases as
    `target` grows. Stock KPIs have no forecast (docs/forecast.md).
    """
    return hit_probability_given(
        value=value,
        target=target,
        remaining_weight=remaining_weight,
        estimate=lambda: estimate_rate(history, planned_rate=planned_rate),
    )


def hit_probability_given(
    *, value: float, target: float, remaining_weight: float, estimate: Callable[[], RateEstimate]
) -> float:
    """Return `hit_probability` with the rate estimate supplied (computed only if needed, maybe cached)."""
    for name, number in (("value", value), ("target", target)):
        if not math.isfinite(number):
            raise ValueError(f"{name} must be finite, not {number}")
    _check_finite("remaining_weight", remaining_weight)
    if value >= target:
        return 1.0
    if remaining_weight == 0.0:
        return 0.0
    # Counts are whole, so what is still needed is the next whole count (see _NOISE).
    needed = max(1, math.ceil(target - value - _NOISE * max(1.0, abs(target))))
    counts = remaining_counts(estimate(), remaining_weight)
    if counts.mean == 0.0:
        return 0.0
    if not 0.0 < counts.size < math.inf:
        # A mean so close to 0 that the size underflows: nothing more will come. (An infinite size
        # is not reachable with a dispersion of at least 1; kept so no input can turn into a NaN.)
        return 1.0 if counts.mean >= needed else 0.0
    return negative_binomial_survival(needed, size=counts.size, success=counts.success)


def daily_history(
    daily_counts: Mapping[date, float], weights: Mapping[date, float], today: date
) -> list[tuple[float, float]]:
    """Return (count, weight) for each day of `weights` before `today`, in day order (a missing count is 0)."""
    return [(daily_counts.get(day, 0.0), weights[day]) for day in sorted(weights) if day < today]
