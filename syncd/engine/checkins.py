"""Judge finished check-ins: with the goal version in force during each, and days never synced unknown.

Pure: the caller brings the counts, the stored goal versions (as a lookup) and what the store knows
of each source's coverage. A check-in whose days were not all synced is `incomplete`, never a miss
of zeros; a result is `final` once the check-in closed and its sources synced past its end and
their lookback, so late corrections are in and the store may freeze it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from syncd.engine.checkin_results import CheckinResult, Outcome
from syncd.engine.evaluate import (
    DailyCounts,
    checkpoint_value,
    kpi_counts,
    owner_daily_counts,
    owner_subjects,
    pacing_curve,
    period_at,
    previous_period,
)
from syncd.engine.pace import checkin_asks_nothing, checkin_target, day_weights
from syncd.engine.periods import Period, checkin_periods, local_midnight
from syncd.engine.shared_work import curve_key, period_weights, remember
from syncd.model import Config, Goal, Kpi

__all__ = ["GoalVersionAt", "SourceCoverage", "judge_checkins", "unknown_days"]

# Returns the goal (same key) as it stood at an instant.
GoalVersionAt = Callable[[datetime], Goal]

_LAST_MOMENT = timedelta(microseconds=1)


@dataclass(frozen=True)
class SourceCoverage:
    """What the store knows of one source's days: from where, and up to which instant, they were read."""

    first_day: date | None  # the first local day stored or backfilled; None: nothing ever stored
    synced_until: datetime | None  # end of the last window fully read; None: never pulled
    lookback: timedelta = timedelta(0)  # how long late data may still change a day
    pulled: bool = True  # False for push sources: their counts are what was posted, there is no cursor


def _day_known(day: date, coverage: SourceCoverage | None, config: Config) -> bool:
    if coverage is None or coverage.first_day is None or day < coverage.first_day:
        return False
    if not coverage.pulled:
        return True
    end_of_day = local_midnight(day + timedelta(days=1), config.timezone)
    return coverage.synced_until is not None and coverage.synced_until >= end_of_day


def unknown_days(config: Config, kpi: Kpi, checkin: Period, coverage: Mapping[str, SourceCoverage]) -> int:
    """Count the check-in's days that some source of the KPI never synced."""
    return sum(
        1 for day in checkin.days() if not all(_day_known(day, coverage.get(source), config) for source in kpi.sources)
    )


def _settled(config: Config, kpi: Kpi, checkin: Period, coverage: Mapping[str, SourceCoverage]) -> bool:
    """Say whether every pulled source has re-read the check-in's last day through its lookback."""
    deadline = checkin.deadline(config.timezone)
    for source in kpi.sources:
        known = coverage.get(source)
        if known is None:
            return False
        if known.pulled and (known.synced_until is None or known.synced_until < deadline + known.lookback):
            return False
    return True


def _outcome(goal: Goal, kpi: Kpi, value: float, target: float, unknown: int) -> Outcome:
    reached = value >= target if goal.direction == "at_least" else value <= target
    # Counts only grow as missing days arrive, so a flow already at its target is a hit.
    if reached and (unknown == 0 or (kpi.kind == "flow" and goal.direction == "at_least")):
        return "hit"
    return "incomplete" if unknown else "missed"


def _what_is_asked(
    config: Config, version: Goal, period: Period, sub: Period, daily: Mapping[date, float]
) -> tuple[bool, float]:
    """Return whether the curve asks anything of the check-in, and its target.

    Shared by every goal of one curve, target and check-in (shared_work), as the evaluator shares
    its live check-in targets; a curve learned from the owner's history (`history`) is the owner's own.
    """
    key = curve_key(config, version)
    if key is None:
        weights = day_weights(period, pacing_curve(config, version, period, daily)[0])
        asks = not checkin_asks_nothing(sub, weights)
        return asks, checkin_target(version.target, sub, period, weights) if asks else 0.0

    def curve_weights() -> dict[date, float]:
        return period_weights(period, key, pacing_curve(config, version, period, daily)[0])

    if remember(("asks nothing", sub, period, key), lambda: checkin_asks_nothing(sub, curve_weights())):
        return False, 0.0
    target = remember(
        ("checkin target", version.target, sub, period, key),
        lambda: checkin_target(version.target, sub, period, curve_weights()),
    )
    return True, target


def _coverage_of(
    config: Config,
    kpi: Kpi,
    sub: Period,
    coverage: Mapping[str, SourceCoverage],
    known: dict[Hashable, tuple[int, bool]],
) -> tuple[int, bool]:
    """Return the check-in's unknown days and whether it is settled, once per KPI sources and check-in."""
    key = (kpi.sources, sub)
    found = known.get(key)
    if found is None:
        found = known[key] = (unknown_days(config, kpi, sub, coverage), _settled(config, kpi, sub, coverage))
    return found


def judge_checkins(
    config: Config,
    goal: Goal,
    counts: DailyCounts,
    instant: datetime,
    *,
    version_at: GoalVersionAt,
    coverage: Mapping[str, SourceCoverage],
    known: dict[Hashable, tuple[int, bool]] | None = None,
) -> list[CheckinResult]:
    """Judge the goal's check-ins that closed before today, in this period and the previous one.

    Each period takes its levels from the version in force at its end (or now); each check-in
    its target, curve and direction from the version in force at its own end. `known`: what this
    `coverage` says of check-ins already asked about, shared by one pass over many goals.
    """
    known = {} if known is None else known
    kpi = config.kpis[goal.kpi]
    tz = config.timezone
    today = instant.astimezone(tz).date()
    by_subject = kpi_counts(kpi, counts)
    subjects = owner_subjects(config, kpi, goal.owner)
    daily = owner_daily_counts(by_subject, subjects)
    periods = [p for p in (previous_period(config, goal.period, instant), period_at(config, goal.period, instant)) if p]
    key = "|".join(goal.key)
    out: list[CheckinResult] = []
    for period in periods:
        if period.first_day >= today:
            continue
        levels = version_at(min(period.deadline(tz) - _LAST_MOMENT, instant)).checkins
        for level in levels:
            subs = remember(
                ("checkins", period, level, config.week_start),
                partial(checkin_periods, period, level, week_start=config.week_start),
            )
            for sub in subs:
                if sub.last_day >= today:
                    continue
                version = version_at(sub.deadline(tz) - _LAST_MOMENT)
                asks, target = _what_is_asked(config, version, period, sub, daily)
                if not asks:
                    continue
                value = checkpoint_value(kpi, sub, by_subject, subjects, sub.last_day, daily=daily)
                unknown, settled = _coverage_of(config, kpi, sub, coverage, known)
                out.append(
                    CheckinResult(
                        goal_key=key,
                        kpi=goal.kpi,
                        owner=goal.owner,
                        level=level,
                        checkpoint=sub.id,
                        period=period.id,
                        first_day=sub.first_day,
                        last_day=sub.last_day,
                        target=target,
                        value=value,
                        unknown_days=unknown,
                        outcome=_outcome(version, kpi, value, target, unknown),
                        final=unknown == 0 and settled,
                    )
                )
    return out
