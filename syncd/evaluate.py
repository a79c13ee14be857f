"""Turn stored daily counts into each goal's figures at an instant (CONTRACT §4).

This is the bridge between the store and the pure maths of `syncd.pace`: it decides which
subjects count for an owner, which period holds the instant, and what the value is so far.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from syncd.model import Config, CustomWeightsSpec, FixedPeriodSpec, Goal, Kpi, PeriodSpec
from syncd.pace import (
    BusinessDays,
    CustomWeights,
    Linear,
    PacingCurve,
    day_weights,
    elapsed_fraction,
    pace_figures,
)
from syncd.periods import Period, checkin_periods, custom_period, period_containing
from syncd.snapshot import CheckpointStatus, GoalStatus

__all__ = [
    "CountKey",
    "DailyCounts",
    "counts_needed",
    "evaluate_goal",
    "evaluate_goals",
    "owner_subjects",
    "period_at",
]

CountKey = tuple[str, str]  # (source, metric)
# (source, metric) -> subject -> local day -> count
DailyCounts = Mapping[CountKey, Mapping[str, Mapping[date, float]]]

# A stock KPI's level may have been recorded well before the period began.
STOCK_HISTORY = timedelta(days=400)


@dataclass(frozen=True)
class CountsRange:
    """Which stored counts a set of goals needs: the keys and the inclusive day range."""

    keys: tuple[CountKey, ...]
    first_day: date
    last_day: date


def period_at(config: Config, spec: PeriodSpec, instant: datetime) -> Period:
    """Return the period of a goal that holds `instant` (a fixed period is always itself)."""
    if isinstance(spec, FixedPeriodSpec):
        return custom_period(spec.first_day, spec.last_day)
    today = instant.astimezone(config.timezone).date()
    return period_containing(spec.kind, today, week_start=config.week_start, fortnight_anchor=config.fortnight_anchor)


def counts_needed(config: Config, instant: datetime, goals: Iterable[Goal] | None = None) -> CountsRange:
    """Return the keys and days of stored counts the goals need at `instant`."""
    keys: set[CountKey] = set()
    first: date | None = None
    last: date | None = None
    for goal in config.goals if goals is None else goals:
        kpi = config.kpis[goal.kpi]
        period = period_at(config, goal.period, instant)
        start = period.first_day - (STOCK_HISTORY if kpi.kind == "stock" else timedelta(0))
        keys.add((kpi.source, kpi.metric))
        first = start if first is None else min(first, start)
        last = period.last_day if last is None else max(last, period.last_day)
    for funnel in config.funnels.values():
        period = period_at(config, funnel.period, instant)
        for step in funnel.steps:
            kpi = config.kpis[step]
            keys.add((kpi.source, kpi.metric))
        first = period.first_day if first is None else min(first, period.first_day)
        last = period.last_day if last is None else max(last, period.last_day)
    today = instant.astimezone(config.timezone).date()
    return CountsRange(tuple(sorted(keys)), first or today, last or today)


def owner_subjects(config: Config, kpi: Kpi, owner: str) -> frozenset[str] | None:
    """Return the subjects that count for `owner`, or None when every subject counts.

    A per-person KPI counts the owner's identities in the KPI's source; a team owns the sum of
    its members. Any other KPI counts every subject of its metric.
    """
    if not kpi.per_person:
        return None
    names = [owner] if owner in config.people else list(config.members_of(owner))
    subjects: set[str] = set()
    for name in names:
        subjects.update(config.people[name].identities.get(kpi.source, ()))
    return frozenset(subjects)


def pacing_curve(config: Config, goal: Goal) -> PacingCurve:
    """Build the goal's pacing curve from its spec and the configured holidays."""
    if isinstance(goal.pacing, CustomWeightsSpec):
        return CustomWeights(weekday=dict(goal.pacing.weekday), month=dict(goal.pacing.month))
    if goal.pacing == "business_days":
        return BusinessDays(holidays=config.holidays)
    return Linear()


def flow_value(
    by_subject: Mapping[str, Mapping[date, float]],
    subjects: frozenset[str] | None,
    first_day: date,
    last_day: date,
) -> float:
    """Sum the daily counts of the chosen subjects over the inclusive day range."""
    total = 0.0
    for subject, days in by_subject.items():
        if subjects is not None and subject not in subjects:
            continue
        total += sum(value for day, value in days.items() if first_day <= day <= last_day)
    return total


def stock_value(by_subject: Mapping[str, Mapping[date, float]], subjects: frozenset[str] | None, on_day: date) -> float:
    """Sum, over the chosen subjects, each one's latest level on or before `on_day`."""
    total = 0.0
    for subject, days in by_subject.items():
        if subjects is not None and subject not in subjects:
            continue
        known = [day for day in days if day <= on_day]
        if known:
            total += days[max(known)]
    return total


def evaluate_goal(config: Config, goal: Goal, counts: DailyCounts, instant: datetime) -> GoalStatus:
    """Compute one goal's figures at `instant` from the daily counts."""
    kpi = config.kpis[goal.kpi]
    tz = config.timezone
    period = period_at(config, goal.period, instant)
    start, deadline = period.start(tz), period.deadline(tz)
    today = instant.astimezone(tz).date()
    # The value counts the period's days up to and including the day that holds the instant.
    through = min(max(today, period.first_day - timedelta(days=1)), period.last_day)
    by_subject = counts.get((kpi.source, kpi.metric), {})
    subjects = owner_subjects(config, kpi, goal.owner)
    if kpi.kind == "stock":
        value = stock_value(by_subject, subjects, through)
    else:
        value = flow_value(by_subject, subjects, period.first_day, through)

    weights = day_weights(period, pacing_curve(config, goal))
    total_weight = sum(weights.values())
    elapsed = elapsed_fraction(period, weights, instant, tz)
    figures = pace_figures(
        value=value,
        target=goal.target,
        elapsed=elapsed,
        total_weight=total_weight,
        tolerance=goal.tolerance,
        baseline=goal.baseline if kpi.kind == "stock" else None,
    )
    checkpoint = None
    if goal.checkins is not None:
        checkpoint = _current_checkpoint(config, goal, kpi, period, weights, by_subject, subjects, instant)
    return GoalStatus(
        kpi=goal.kpi,
        source=kpi.source,
        owner=goal.owner,
        team=config.team_of(goal.owner),
        period=period.id,
        start=start,
        deadline=deadline,
        value=value,
        target=goal.target,
        committed=goal.committed,
        figures=figures,
        checkpoint=checkpoint,
    )


def _current_checkpoint(
    config: Config,
    goal: Goal,
    kpi: Kpi,
    period: Period,
    weights: Mapping[date, float],
    by_subject: Mapping[str, Mapping[date, float]],
    subjects: frozenset[str] | None,
    instant: datetime,
) -> CheckpointStatus | None:
    assert goal.checkins is not None
    today = instant.astimezone(config.timezone).date()
    day = min(max(today, period.first_day), period.last_day)
    total_weight = sum(weights.values())
    for sub in checkin_periods(period, goal.checkins, week_start=config.week_start):
        if not sub.contains(day):
            continue
        share = sum(weights[d] for d in sub.days()) / total_weight if total_weight else 0.0
        through = min(today, sub.last_day)
        if kpi.kind == "stock":
            value = stock_value(by_subject, subjects, through)
        else:
            value = flow_value(by_subject, subjects, sub.first_day, through) if through >= sub.first_day else 0.0
        return CheckpointStatus(id=sub.id, target=goal.target * share, value=value)
    return None


def evaluate_goals(config: Config, counts: DailyCounts, instant: datetime) -> tuple[GoalStatus, ...]:
    """Compute every configured goal's figures at `instant`."""
    return tuple(evaluate_goal(config, goal, counts, instant) for goal in config.goals)
