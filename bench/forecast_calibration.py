"""Is `syncd_goal_hit_probability` calibrated? Of goals given p, about p should be hit.

Synthetic owners with known rates and dispersions get goals of varied difficulty. At a random
instant of the period the forecast is computed from what the owner has done so far (and, for some,
trailing history); the rest of the period is then drawn from the owner's TRUE process and the goal
scored hit or missed. The report is a calibration table and Brier scores against two baselines
measured on the same goals: the naive "projected >= target" 0/1 call, and the overall hit rate.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from syncd.engine.forecast import hit_probability
from syncd.engine.forecast_bridge import remaining_weight
from syncd.engine.pace import day_clock
from syncd.engine.periods import custom_period

SEED = 20261116
SCENARIOS = 6000
# A four-week period paced on business days: W = 20.
PERIOD_WEIGHTS = ([1.0] * 5 + [0.0] * 2) * 4
# The same period as the engine sees it, to take the remaining weight the engine's way.
_FIRST_DAY = date(2026, 11, 2)  # a Monday
PERIOD = custom_period(_FIRST_DAY, _FIRST_DAY + timedelta(days=len(PERIOD_WEIGHTS) - 1))
DAY_WEIGHTS = {_FIRST_DAY + timedelta(days=index): weight for index, weight in enumerate(PERIOD_WEIGHTS)}
TRAILING_WEEKS = (0, 2, 8)
DISPERSIONS = (1.0, 1.5, 3.0, 6.0)
BINS = 10
# Poisson draws by inversion underflow exp(−mean) past ~745; draw big means in parts.
_POISSON_PART = 50.0


@dataclass(frozen=True)
class Owner:
    """A synthetic owner: counts per working day, their variance-to-mean ratio, and weekend work."""

    rate: float
    dispersion: float
    weekend_share: float


@dataclass(frozen=True)
class CalibrationBin:
    """One row of the calibration table."""

    low: float
    high: float
    goals: int
    mean_probability: float
    hit_rate: float


@dataclass(frozen=True)
class CalibrationReport:
    """The whole benchmark's outcome."""

    scenarios: int
    bins: tuple[CalibrationBin, ...]
    brier: float
    naive_brier: float
    climatology_brier: float
    hit_rate: float
    calibration_error: float
    weekday_only_error: float
    weekend_workers_error: float


def _poisson(rng: random.Random, mean: float) -> int:
    total = 0
    while mean > 0.0:
        part = min(mean, _POISSON_PART)
        mean -= part
        uniform = rng.random()
        term = math.exp(-part)
        cumulative = term
        draws = 0
        while uniform > cumulative and term > 0.0:
            draws += 1
            term *= part / draws
            cumulative += term
        total += draws
    return total


def _day_mean(rng: random.Random, owner: Owner, weight: float) -> float:
    # A day's own rate is gamma distributed around the mean: gamma-Poisson is the negative
    # binomial, with variance dispersion × mean.
    mean = owner.rate * (weight if weight > 0.0 else owner.weekend_share)
    if owner.dispersion == 1.0 or mean == 0.0:
        return mean
    excess = owner.dispersion - 1.0
    return rng.gammavariate(mean / excess, excess)


def _owner(rng: random.Random) -> Owner:
    return Owner(
        rate=math.exp(rng.uniform(math.log(0.3), math.log(40.0))),
        dispersion=rng.choice(DISPERSIONS),
        weekend_share=rng.choice((0.0, 0.0, 0.2)),
    )


def _scenario(rng: random.Random) -> tuple[float, float, bool, bool]:
    """Draw one owner, goal and instant; return (forecast, naive 0/1 forecast, hit, works weekends)."""
    owner = _owner(rng)
    total_weight = math.fsum(PERIOD_WEIGHTS)
    difficulty = math.exp(rng.uniform(math.log(0.6), math.log(1.6)))
    target = float(max(1, round(owner.rate * total_weight * difficulty)))

    trailing_days = 7 * rng.choice(TRAILING_WEEKS)
    history = [
        (float(_poisson(rng, _day_mean(rng, owner, weight))), weight)
        for weight in PERIOD_WEIGHTS[:7] * (trailing_days // 7)
    ]

    today = rng.randrange(len(PERIOD_WEIGHTS))
    elapsed_today = rng.random()
    value = 0.0
    rest = 0.0
    for day, weight in enumerate(PERIOD_WEIGHTS):
        day_mean = _day_mean(rng, owner, weight)
        if day < today:
            count = float(_poisson(rng, day_mean))
            history.append((count, weight))
            value += count
        elif day == today:
            value += _poisson(rng, day_mean * elapsed_today)
            rest += _poisson(rng, day_mean * (1.0 - elapsed_today))
        else:
            rest += _poisson(rng, day_mean)

    # As the engine forecasts: from the start of today (today's whole weight still ahead), with
    # today's counts so far in the value.
    clock = day_clock(PERIOD, DAY_WEIGHTS, _FIRST_DAY + timedelta(days=today), ZoneInfo("UTC"))
    probability = hit_probability(
        value=value,
        target=target,
        remaining_weight=remaining_weight(total_weight, clock),
        history=history,
        planned_rate=target / total_weight,
    )
    # The naive call projects at the instant, as syncd's `projected` does.
    elapsed = (math.fsum(PERIOD_WEIGHTS[:today]) + PERIOD_WEIGHTS[today] * elapsed_today) / total_weight
    projected = value / elapsed if elapsed > 0.0 else value
    naive = 1.0 if projected >= target else 0.0
    return probability, naive, value + rest >= target, owner.weekend_share > 0.0


def _in_bin(probability: float, index: int) -> bool:
    return index / BINS <= probability < (index + 1) / BINS or (index == BINS - 1 and probability == 1.0)


def _calibration_error(outcomes: list[tuple[float, bool]]) -> float:
    # Σ over bins of (share of goals) × |mean p − hit rate|.
    error = 0.0
    for index in range(BINS):
        members = [(p, hit) for p, hit in outcomes if _in_bin(p, index)]
        if members:
            gap = math.fsum(p for p, _ in members) - sum(hit for _, hit in members)
            error += abs(gap) / len(outcomes)
    return error


def run(scenarios: int = SCENARIOS, seed: int = SEED) -> CalibrationReport:
    """Score `scenarios` synthetic goals and return the calibration table and Brier scores."""
    rng = random.Random(seed)
    outcomes = [_scenario(rng) for _ in range(scenarios)]
    hit_rate = sum(hit for _, _, hit, _ in outcomes) / scenarios

    def brier(index: int) -> float:
        return math.fsum((forecast[index] - forecast[2]) ** 2 for forecast in outcomes) / scenarios

    bins: list[CalibrationBin] = []
    for index in range(BINS):
        members = [(p, hit) for p, _, hit, _ in outcomes if _in_bin(p, index)]
        mean_probability = math.fsum(p for p, _ in members) / len(members) if members else math.nan
        observed = sum(hit for _, hit in members) / len(members) if members else math.nan
        bins.append(CalibrationBin(index / BINS, (index + 1) / BINS, len(members), mean_probability, observed))
    return CalibrationReport(
        scenarios=scenarios,
        bins=tuple(bins),
        brier=brier(0),
        naive_brier=brier(1),
        climatology_brier=hit_rate * (1.0 - hit_rate),
        hit_rate=hit_rate,
        calibration_error=_calibration_error([(p, hit) for p, _, hit, _ in outcomes]),
        weekday_only_error=_calibration_error([(p, hit) for p, _, hit, weekends in outcomes if not weekends]),
        weekend_workers_error=_calibration_error([(p, hit) for p, _, hit, weekends in outcomes if weekends]),
    )


def main() -> None:
    """Print the forecast's calibration table and Brier scores."""
    report = run()
    print(f"forecast calibration: {report.scenarios} synthetic goals, seed {SEED}")
    print(f"{'p bin':>11} {'goals':>7} {'mean p':>8} {'hit rate':>9}")
    for row in report.bins:
        print(f"{row.low:4.1f}-{row.high:<4.1f}   {row.goals:7d} {row.mean_probability:8.3f} {row.hit_rate:9.3f}")
    print(
        f"hit rate overall {report.hit_rate:.3f}; expected calibration error {report.calibration_error:.3f} "
        f"(owners working weekdays only {report.weekday_only_error:.3f}, "
        f"also weekends {report.weekend_workers_error:.3f})"
    )
    print(
        f"Brier score: forecast {report.brier:.4f}; "
        f"naive projected >= target {report.naive_brier:.4f} (forecast/naive {report.brier / report.naive_brier:.2f}); "
        f"overall hit rate {report.climatology_brier:.4f} "
        f"(forecast/hit rate {report.brier / report.climatology_brier:.2f})"
    )
