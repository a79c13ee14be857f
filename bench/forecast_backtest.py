"""Backtest of `syncd_goal_hit_probability` through the daemon's own evaluation path.

Synthetic but realistic owners (weekday rhythm, public holidays, slow weeks, ramps, owners who stop)
each get a year of daily counts. Every month each owner has a goal set as people set them: their
own recent monthly volume raised by a stretch. At several instants of each month the goal is
evaluated exactly as `syncd run` does (`syncd.engine.evaluate.evaluate_goal` on a parsed
configuration and stored-count shaped data), and the month's real end decides hit or miss.

Reported: the reliability table (of goals given p in a bin, the share hit), the Brier score of the
forecast against two baselines computed on the same goals (the naive call "projected >= target" as
0/1, and climatology: the overall hit rate), and the calibration error. `python -m bench
forecast_backtest`; the table is copied into docs/forecast.md.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from syncd.config import parse_config
from syncd.engine.evaluate import evaluate_goal

SEED = 20261127
OWNERS = 60
YEAR = 2025
# Instants within each month at which the goal is evaluated (fraction of the month gone).
CHECKPOINTS = (0.15, 0.3, 0.5, 0.7, 0.85)
BINS = 10
HOLIDAYS = (date(2025, 1, 1), date(2025, 4, 18), date(2025, 4, 21), date(2025, 5, 5), date(2025, 5, 26),
            date(2025, 8, 25), date(2025, 12, 25), date(2025, 12, 26))  # fmt: skip


@dataclass(frozen=True)
class Profile:
    """How one synthetic owner works."""

    base_rate: float  # counts per working day at full speed
    dispersion: float  # variance-to-mean of a day's count
    weekend_share: float  # a weekend day's rate as a share of a weekday's
    ramp_days: int  # days to reach full speed from the year's start (a new hire)
    stops_on: date | None  # the day they stop working (left, moved role)
    slow_weeks: frozenset[int]  # ISO weeks at a third of the usual rate (holidays, illness)
    stretch: float  # how far above their recent volume their goals are set


def _profile(rng: random.Random) -> Profile:
    stops = date(YEAR, rng.randint(3, 11), rng.randint(1, 28)) if rng.random() < 0.12 else None
    return Profile(
        base_rate=rng.choice((2.0, 5.0, 12.0, 30.0)) * rng.uniform(0.7, 1.3),
        dispersion=rng.choice((1.0, 1.5, 3.0, 6.0)),
        weekend_share=rng.choice((0.0, 0.0, 0.1, 0.3)),
        ramp_days=rng.choice((0, 0, 0, 60, 120)),
        stops_on=stops,
        slow_weeks=frozenset(rng.sample(range(1, 53), rng.randint(2, 6))),
        stretch=rng.choice((-0.1, 0.0, 0.1, 0.2, 0.3, 0.5)),
    )


def _draw(rng: random.Random, mean: float, dispersion: float) -> int:
    """A count with the given mean and variance-to-mean ratio (negative binomial as gamma-Poisson)."""
    if mean <= 0:
        return 0
    if dispersion <= 1.0:
        lam = mean
    else:
        shape = mean / (dispersion - 1.0)
        lam = rng.gammavariate(shape, mean / shape)
    count, left = 0, lam
    while left > 0:  # Poisson by parts: exp(-lam) underflows for big lam
        part = min(left, 50.0)
        threshold, product = math.exp(-part), rng.random()
        while product > threshold:
            count += 1
            product *= rng.random()
        left -= part
    return count


def history(profile: Profile, rng: random.Random) -> dict[date, float]:
    """Return a year of daily counts for one owner."""
    out: dict[date, float] = {}
    day = date(YEAR - 1, 12, 1)
    while day <= date(YEAR, 12, 31):
        rate = profile.base_rate
        if day.weekday() >= 5:
            rate *= profile.weekend_share
        if day in HOLIDAYS:
            rate = 0.0
        if day.isocalendar()[1] in profile.slow_weeks:
            rate /= 3
        since_start = (day - date(YEAR - 1, 12, 1)).days
        if profile.ramp_days and since_start < profile.ramp_days:
            rate *= since_start / profile.ramp_days
        if profile.stops_on and day >= profile.stops_on:
            rate = 0.0
        count = _draw(rng, rate, profile.dispersion)
        if count:
            out[day] = float(count)
        day += timedelta(days=1)
    return out


@dataclass(frozen=True)
class Scored:
    """One evaluation: the forecast, the naive call and whether the month was in fact hit."""

    probability: float
    naive: float
    hit: bool


def _config(target: float) -> str:
    holidays = ", ".join(d.isoformat() for d in HOLIDAYS)
    return f"""
timezone: UTC
holidays: [{holidays}]
people: {{owner: {{identities: {{log: owner}}}}}}
sources: {{log: {{connector: push, token: "0123456789abcdef0123456789abcdef"}}}}
kpis: {{done: {{source: log, metric: done, per_person: true}}}}
goals: [{{kpi: done, owner: owner, period: month, target: {target:.0f}, pacing: business_days}}]
"""


def backtest(owners: int = OWNERS, seed: int = SEED) -> list[Scored]:
    """Replay every owner's year, month by month, through evaluate_goal."""
    rng = random.Random(seed)
    scored: list[Scored] = []
    for _ in range(owners):
        profile = _profile(rng)
        daily = history(profile, rng)
        for month in range(2, 13):
            first = date(YEAR, month, 1)
            last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            before = [v for d, v in daily.items() if first - timedelta(days=30) <= d < first]
            recent = sum(before) * ((last - first).days + 1) / 30
            target = max(5.0, round(recent * (1 + profile.stretch)))
            config = parse_config(_config(target), environ={})
            goal = config.goals[0]
            achieved = sum(v for d, v in daily.items() if first <= d <= last)
            for share in CHECKPOINTS:
                seconds = share * ((last - first).days + 1) * 86400
                instant = datetime.combine(first, time(0), tzinfo=UTC) + timedelta(seconds=seconds)
                today = instant.date()
                visible = {d: v for d, v in daily.items() if d <= today}
                status = evaluate_goal(config, goal, {("log", "done"): {"owner": visible}}, instant)
                if status.hit_probability is None:
                    continue
                naive = 1.0 if status.figures.projected >= target else 0.0
                scored.append(Scored(status.hit_probability, naive, achieved >= target))
    return scored


@dataclass(frozen=True)
class Bin:
    """One row of the reliability table."""

    low: float
    high: float
    goals: int
    mean_forecast: float
    hit_rate: float


def reliability(scored: Sequence[Scored], bins: int = BINS) -> list[Bin]:
    """Group the forecasts into equal-width bins and compare each bin's mean forecast with its hit rate."""
    rows = []
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        inside = [s for s in scored if low <= s.probability < high or (index == bins - 1 and s.probability == 1.0)]
        if inside:
            rows.append(
                Bin(
                    low,
                    high,
                    len(inside),
                    sum(s.probability for s in inside) / len(inside),
                    sum(s.hit for s in inside) / len(inside),
                )
            )
    return rows


def brier(forecasts: Sequence[float], outcomes: Sequence[bool]) -> float:
    """Return the mean squared error of probabilistic forecasts."""
    return sum((f - float(o)) ** 2 for f, o in zip(forecasts, outcomes, strict=True)) / len(forecasts)


def report(scored: Sequence[Scored]) -> str:
    """Return the reliability table and scores as Markdown."""
    outcomes = [s.hit for s in scored]
    climate = sum(outcomes) / len(outcomes)
    ours = brier([s.probability for s in scored], outcomes)
    naive = brier([s.naive for s in scored], outcomes)
    climatology = brier([climate] * len(scored), outcomes)
    rows = reliability(scored)
    error = sum(abs(b.mean_forecast - b.hit_rate) * b.goals for b in rows) / len(scored)
    lines = [
        f"{len(scored)} evaluations (owners × 11 months × {len(CHECKPOINTS)} instants), hit rate {climate:.2f}",
        "",
        "| forecast bin | goals | mean forecast | share hit |",
        "| --- | --- | --- | --- |",
        *(f"| {b.low:.1f}–{b.high:.1f} | {b.goals} | {b.mean_forecast:.2f} | {b.hit_rate:.2f} |" for b in rows),
        "",
        f"Brier: forecast {ours:.3f}, naive projected ≥ target {naive:.3f} ({ours / naive:.2f}×), "
        f"climatology {climatology:.3f} ({ours / climatology:.2f}×); calibration error {error:.3f}",
    ]
    return "\n".join(lines)


def main() -> None:
    """Print the backtest report."""
    print(report(backtest()))


if __name__ == "__main__":
    main()
