"""Turn stored daily counts into each goal's figures at an instant (CONTRACT §4).

This is the bridge between the store and the pure maths of `syncd.engine.pace`: it decides which
subjects count for an owner, which period holds the instant, and what the value is so far.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from syncd.engine import pace
from syncd.engine.forecast_bridge import goal_hit_probability
from syncd.engine.history_pacing import HISTORY_LOOKBACK, learned_curve
from syncd.engine.pace import (
    BusinessDays,
    CustomWeights,
    Linear,
    PaceFigures,
    PacingCurve,
    checkin_asks_nothing,
    checkin_holding,
    checkin_target,
    day_weights,
    elapsed_fraction,
    pace_figures,
    period_weight,
)
from syncd.engine.periods import Period, checkin_periods, custom_period, period_containing
from syncd.engine.snapshot import CheckpointStatus, GoalStatus
from syncd.engine.stock_trend import level_on, level_series, stock_trend
from syncd.engine.trail import GoalTrail, goal_trail
from syncd.model import Config, CustomWeightsSpec, FixedPeriodSpec, Goal, Kpi, PeriodSpec

__all__ = [
    "CountKey",
    "CountsRange",
    "DailyCounts",
    "counts_needed",
    "evaluate_goal",
    "evaluate_goals",
    "kpi_counts",
    "needs_shape",
    "owner_daily_counts",
    "owner_subjects",
    "period_at",
    "stock_figures",
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
        return _period_on(spec, None, 0, None)
    today = instant.astimezone(config.timezone).date()
    return _period_on(spec, today, config.week_start, config.fortnight_anchor)


@functools.lru_cache(maxsize=4096)
def _period_on(spec: PeriodSpec, today: date | None, week_start: int, anchor: date | None) -> Period:
    # Asked once per goal by every evaluation, coverage check and counts range: 10,000 goals share a
    # handful of (spec, day) pairs, and building a Period was most of an evaluation's event-loop time.
    if isinstance(spec, FixedPeriodSpec):
        return custom_period(spec.first_day, spec.last_day)
    assert today is not None
    assert anchor is not None
    return period_containing(spec.kind, today, week_start=week_start, fortnight_anchor=anchor)


def previous_period(config: Config, spec: PeriodSpec, instant: datetime) -> Period | None:
    """Return the period before the one holding `instant`, for a recurring goal."""
    if isinstance(spec, FixedPeriodSpec):
        return None
    first = period_at(config, spec, instant).first_day - timedelta(days=1)
    return period_containing(spec.kind, first, week_start=config.week_start, fortnight_anchor=config.fortnight_anchor)


def _history_needed(config: Config, goal: Goal, kpi: Kpi, period: Period, instant: datetime) -> date:
    first = period.first_day
    if kpi.kind == "stock":
        first -= STOCK_HISTORY
    if goal.pacing == "history":
        first = min(first, period.first_day - HISTORY_LOOKBACK)
    if goal.checkins and kpi.kind == "flow":
        previous = previous_period(config, goal.period, instant)
        if previous is not None:
            first = min(first, previous.first_day)
    if goal.pacing != "history" and kpi.kind == "flow":
        # The forecast learns the owner's rate from the trailing weeks as well.
        first = min(first, period.first_day - timedelta(weeks=8))
    return first


def counts_needed(config: Config, instant: datetime, goals: Iterable[Goal] | None = None) -> CountsRange:
    """Return the keys and days of stored counts the goals need at `instant`."""
    keys: set[CountKey] = set()
    firsts: list[date] = []
    lasts: list[date] = []
    seen: set[Hashable] = set()
    for goal in config.goals if goals is None else goals:
        # Goals of one shape need the same days: 10,000 goals are a few shapes, worked out once each.
        shape = needs_shape(goal)
        if shape in seen:
            continue
        seen.add(shape)
        kpi = config.kpis[goal.kpi]
        period = period_at(config, goal.period, instant)
        keys.update(kpi.count_keys)
        firsts.append(_history_needed(config, goal, kpi, period, instant))
        lasts.append(period.last_day)
    for funnel in config.funnels.values():
        period = period_at(config, funnel.period, instant)
        keys.update(key for step in funnel.steps for key in config.kpis[step].count_keys)
        firsts.append(period.first_day)
        lasts.append(period.last_day)
    today = instant.astimezone(config.timezone).date()
    return CountsRange(tuple(sorted(keys)), min(firsts, default=today), max(lasts, default=today))


def needs_shape(goal: Goal) -> Hashable:
    """Return what decides which days of which counts a goal needs (`_history_needed`): equal for goals of one shape."""
    return (goal.kpi, goal.period, goal.pacing == "history", bool(goal.checkins))


def owner_subjects(config: Config, kpi: Kpi, owner: str) -> frozenset[str] | None:
    """Return the subjects (case-folded) that count for `owner`, or None when every subject counts.

    A per-person KPI counts the owner's identities in the KPI's source; a team owns the sum of
    its members. Any other KPI counts every subject of its metric. Identities compare without
    case: vendors disagree on how they spell an email address.
    """
    if not kpi.per_person:
        return None
    names = [owner] if owner in config.people else list(config.members_of(owner))
    subjects: set[str] = set()
    for name in names:
        identities = config.people[name].identities
        if len(kpi.sources) == 1:
            subjects.update(value.casefold() for value in identities.get(kpi.sources[0], ()))
        else:
            # Identities are per source: match them only in that source's counts (see kpi_counts).
            for source in kpi.sources:
                subjects.update(_in_source(source, value).casefold() for value in identities.get(source, ()))
    return frozenset(subjects)


def _in_source(source: str, subject: str) -> str:
    # The unit separator cannot appear in a source name (config names are [A-Za-z0-9_.@-]).
    return f"{source}\x1f{subject}"


def kpi_counts(kpi: Kpi, counts: DailyCounts) -> Mapping[str, Mapping[date, float]]:
    """Return subject -> day -> count for the KPI, over every one of its sources.

    One source: its counts as stored. Several: each subject is qualified by its source, so a
    person's identity counts only where it was given, and a team sums across the sources.
    """
    if len(kpi.sources) == 1:
        return counts.get(kpi.count_keys[0], {})
    merged: dict[str, Mapping[date, float]] = {}
    for source, metric in kpi.count_keys:
        for subject, days in counts.get((source, metric), {}).items():
            merged[_in_source(source, subject)] = days
    return merged


def owner_daily_counts(
    by_subject: Mapping[str, Mapping[date, float]], subjects: frozenset[str] | None
) -> dict[date, float]:
    """Sum the chosen subjects' counts per day."""
    daily: dict[date, float] = {}
    for subject, days in by_subject.items():
        if subjects is not None and subject.casefold() not in subjects:
            continue
        for day, count in days.items():
            daily[day] = daily.get(day, 0.0) + count
    return daily


def flow_value(
    by_subject: Mapping[str, Mapping[date, float]],
    subjects: frozenset[str] | None,
    first_day: date,
    last_day: date,
) -> float:
    """Sum the daily counts of the chosen subjects over the inclusive day range.

    Summed exactly (fsum) as a goal's value is, so a check-in as long as its period has the same
    value, and the order the counts come in does not matter.
    """
    return daily_total(owner_daily_counts(by_subject, subjects), first_day, last_day)


def daily_total(daily: Mapping[date, float], first_day: date, last_day: date) -> float:
    """Sum one owner's daily counts over the inclusive day range, exactly (fsum): flow_value's sum."""
    return math.fsum(count for day, count in daily.items() if first_day <= day <= last_day)


def stock_value(by_subject: Mapping[str, Mapping[date, float]], subjects: frozenset[str] | None, on_day: date) -> float:
    """Sum, over the chosen subjects, each one's latest level on or before `on_day`."""
    chosen = (days for subject, days in by_subject.items() if subjects is None or subject.casefold() in subjects)
    return level_on(chosen, on_day)


def pacing_curve(
    config: Config, goal: Goal, period: Period, daily: Mapping[date, float]
) -> tuple[PacingCurve, str | None]:
    """Build the goal's pacing curve from its spec, the holidays and (for `history`) the owner's counts."""
    if isinstance(goal.pacing, CustomWeightsSpec):
        return CustomWeights(weekday=dict(goal.pacing.weekday), month=dict(goal.pacing.month)), None
    if goal.pacing == "business_days":
        return BusinessDays(holidays=config.holidays), None
    if goal.pacing == "history":
        return learned_curve(period, daily, config.holidays)
    return Linear(), None


def _value_through(period: Period, today: date) -> date:
    """Return the last day whose counts belong to the value: the day holding t, clipped to the period."""
    return min(max(today, period.first_day - timedelta(days=1)), period.last_day)


def evaluate_goal(config: Config, goal: Goal, counts: DailyCounts, instant: datetime) -> GoalStatus:
    """Compute one goal's figures at `instant` from the daily counts."""
    kpi = config.kpis[goal.kpi]
    tz = config.timezone
    period = period_at(config, goal.period, instant)
    today = instant.astimezone(tz).date()
    through = _value_through(period, today)
    by_subject = kpi_counts(kpi, counts)
    subjects = owner_subjects(config, kpi, goal.owner)
    daily = owner_daily_counts(by_subject, subjects)
    if kpi.kind == "stock":
        value = stock_value(by_subject, subjects, through)
    else:
        value = pace.flow_value(daily, period, through)

    curve, note = pacing_curve(config, goal, period, daily)
    weights = day_weights(period, curve)
    total_weight = period_weight(period, weights)
    elapsed = elapsed_fraction(period, weights, instant, tz)
    stock = kpi.kind == "stock"
    figures = pace_figures(
        value=value,
        target=goal.target,
        elapsed=elapsed,
        total_weight=total_weight,
        tolerance=goal.tolerance,
        baseline=goal.baseline if stock else None,
        direction=goal.direction,
    )
    probability = (
        None
        if stock
        else goal_hit_probability(
            value=value,
            target=goal.target,
            period=period,
            curve=curve,
            total_weight=total_weight,
            daily=daily,
            instant=instant,
            tz=tz,
        )
    )
    if stock:
        series = level_series(by_subject, subjects, period, through)
        figures, probability = stock_figures(goal, period, figures, series, value, instant, tz)
    checkpoints = _current_checkpoints(config, goal, kpi, period, weights, by_subject, subjects, instant)
    trail = goal_trail(
        period,
        weights,
        goal.target,
        through=min(through, today),
        daily=None if stock else daily,
        levels={d: stock_value(by_subject, subjects, d) for d in period.days() if d <= through} if stock else None,
        baseline=goal.baseline if stock else None,
    )
    return goal_status(
        config, goal, kpi, period, value=value, figures=figures, probability=probability,
        checkpoints=checkpoints, trail=trail, note=note,
    )  # fmt: skip


def goal_status(
    config: Config,
    goal: Goal,
    kpi: Kpi,
    period: Period,
    *,
    value: float,
    figures: PaceFigures,
    probability: float | None,
    checkpoints: tuple[CheckpointStatus, ...],
    trail: GoalTrail,
    note: str | None,
) -> GoalStatus:
    """Assemble a goal's figures into its status (shared by the reference and the fast evaluator)."""
    tz = config.timezone
    return GoalStatus(
        unit=kpi.unit,
        description=kpi.description,
        trail=trail,
        kpi=goal.kpi,
        source=kpi.source,
        owner=goal.owner,
        team=config.team_of(goal.owner),
        period=period.id,
        start=period.start(tz),
        deadline=period.deadline(tz),
        value=value,
        target=goal.target,
        committed=goal.committed,
        figures=figures,
        hit_probability=probability,
        checkpoint=checkpoints[-1] if checkpoints else None,
        notes=(note,) if note else (),
        checkpoints=checkpoints,
        goal_key="|".join(goal.key),
    )


def stock_figures(
    goal: Goal,
    period: Period,
    figures: PaceFigures,
    series: list[tuple[float, float]],
    value: float,
    instant: datetime,
    tz: ZoneInfo,
) -> tuple[PaceFigures, float | None]:
    """Replace a stock goal's projection, buffer and required change with its level trend's.

    `series` is `stock_trend.level_series` of the owner's subjects through the value's day.
    """
    start = period.start(tz)
    period_days = (period.deadline(tz) - start).total_seconds() / 86400
    elapsed_days = min(period_days, max(0.0, (instant - start).total_seconds() / 86400))
    trend = stock_trend(
        series,
        value=value,
        target=goal.target,
        baseline=goal.baseline,
        period_days=period_days,
        elapsed_days=elapsed_days,
        at_most=goal.direction == "at_most",
    )
    updated = replace(
        figures,
        projected=trend.projected,
        buffer_days=trend.buffer_days,
        required_daily_rate=trend.required_daily_change,
    )
    return updated, trend.hit_probability


def checkpoint_value(
    kpi: Kpi,
    sub: Period,
    by_subject: Mapping[str, Mapping[date, float]],
    subjects: frozenset[str] | None,
    through: date,
    *,
    daily: Mapping[date, float] | None = None,
) -> float:
    """Return a check-in's value through `through`; `daily`: the owner's daily sums, when already made.

    Summing the subjects' days again for each check-in was most of a judging's time at 10,000 goals.
    """
    if kpi.kind == "stock":
        return stock_value(by_subject, subjects, through)
    if through < sub.first_day:
        return 0.0
    if daily is None:
        return flow_value(by_subject, subjects, sub.first_day, through)
    return daily_total(daily, sub.first_day, through)


def _current_checkpoints(
    config: Config,
    goal: Goal,
    kpi: Kpi,
    period: Period,
    weights: Mapping[date, float],
    by_subject: Mapping[str, Mapping[date, float]],
    subjects: frozenset[str] | None,
    instant: datetime,
) -> tuple[CheckpointStatus, ...]:
    """Return the current check-in of every level, coarsest first; each level's targets follow the goal's curve."""
    today = instant.astimezone(config.timezone).date()
    day = min(max(today, period.first_day), period.last_day)
    out: list[CheckpointStatus] = []
    for level in goal.checkins:
        sub = checkin_holding(checkin_periods(period, level, week_start=config.week_start), day)
        if sub is None or checkin_asks_nothing(sub, weights):
            continue
        value = checkpoint_value(kpi, sub, by_subject, subjects, min(today, sub.last_day))
        target = checkin_target(goal.target, sub, period, weights)
        out.append(CheckpointStatus(id=sub.id, target=target, value=value, level=level))
    return tuple(out)


def evaluate_goals(config: Config, counts: DailyCounts, instant: datetime) -> tuple[GoalStatus, ...]:
    """Compute every configured goal's figures at `instant`."""
    return tuple(evaluate_goal(config, goal, counts, instant) for goal in config.goals)
