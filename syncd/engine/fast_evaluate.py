"""Evaluate many goals at one instant, sharing the work that does not depend on the goal.

`syncd.engine.evaluate.evaluate_goal` is the reference: it recomputes period days, curve weights,
E(t) and each owner's daily counts for every goal, and scans every subject of a KPI to find the
owner's. Here that work is done once per (period, curve) or once per (KPI, owner) and shared, and
each KPI's subjects are indexed once, so a goal costs its own arithmetic only. The figures are the
reference's to the last bit: the same primitives run on the same inputs in the same order
(tests/test_fast_evaluate.py compares both on random goals).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import partial
from itertools import pairwise
from typing import TypeVar, cast

from syncd.engine.evaluate import (
    DailyCounts,
    _stock_figures,
    evaluate_goal,
    goal_status,
    kpi_counts,
    owner_subjects,
    pacing_curve,
    period_at,
)
from syncd.engine.forecast import RateEstimate, estimate_rate, hit_probability_given
from syncd.engine.forecast_bridge import TRAILING_HISTORY
from syncd.engine.pace import elapsed_fraction, pace_figures, period_weight
from syncd.engine.periods import Period, custom_period
from syncd.engine.snapshot import GoalStatus
from syncd.engine.trail import goal_trail
from syncd.engine.weights import PacingCurve, day_weights
from syncd.model import Config, CustomWeightsSpec, Goal, Kpi

__all__ = ["EvaluationCache", "Evaluator", "evaluate_goals_fast"]

SubjectDays = Mapping[date, float]
T = TypeVar("T")


def _curve_key(config: Config, goal: Goal) -> Hashable | None:
    """Return a hashable name for the goal's curve, or None when it is learned per owner (`history`)."""
    pacing = goal.pacing
    if isinstance(pacing, CustomWeightsSpec):
        return ("custom", tuple(sorted(pacing.weekday.items())), tuple(sorted(pacing.month.items())))
    if pacing == "business_days":
        return ("business_days", config.holidays)
    if pacing == "history":
        return None
    return ("linear",)


# Goal-independent results, shared across goals and ticks. Keys name the curve (see _curve_key), so
# an unhashable curve object rides along as an argument; bounded by clearing, as periods roll on.
_MEMO_LIMIT = 65536
_memo: dict[Hashable, object] = {}


def _remember(key: Hashable, compute: Callable[[], T]) -> T:
    try:
        return cast(T, _memo[key])
    except KeyError:
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        value = _memo[key] = compute()
        return value


def _weights(period: Period, key: Hashable, curve: PacingCurve) -> dict[date, float]:
    return _remember(("weights", period, key), lambda: day_weights(period, curve))


def _total_weight(period: Period, key: Hashable, curve: PacingCurve) -> float:
    return _remember(("total", period, key), lambda: period_weight(period, _weights(period, key, curve)))


def _forecast_days(
    period: Period, history_start: date, key: Hashable, curve: PacingCurve
) -> tuple[tuple[date, float], ...]:
    """Return the forecast's (day, weight) pairs in day order, trailing weeks included (forecast_bridge)."""

    def compute() -> tuple[tuple[date, float], ...]:
        weights = _weights(period, key, curve)
        if history_start < period.first_day:
            trailing = custom_period(history_start, period.first_day - timedelta(days=1))
            weights = {**day_weights(trailing, curve), **weights}
        return tuple((day, weights[day]) for day in sorted(weights))

    return _remember(("forecast", period, history_start, key), compute)


class _SubjectIndex:
    """One KPI's counts by subject, indexed by case-folded subject, in their stored order."""

    def __init__(self, by_subject: Mapping[str, SubjectDays]) -> None:
        self.by_subject = by_subject
        self.positions: dict[str, list[int]] = {}
        self.days: list[SubjectDays] = []
        for position, (subject, days) in enumerate(by_subject.items()):
            self.positions.setdefault(subject.casefold(), []).append(position)
            self.days.append(days)

    def chosen(self, subjects: frozenset[str] | None) -> list[SubjectDays]:
        """Return the chosen subjects' day maps in the order the reference visits them."""
        if subjects is None:
            return self.days
        positions = sorted(p for subject in subjects for p in self.positions.get(subject, ()))
        return [self.days[p] for p in positions]


def _owner_daily(chosen: Iterable[SubjectDays]) -> dict[date, float]:
    # Same loop as evaluate.owner_daily_counts, so sums (and insertion order) match bit for bit.
    daily: dict[date, float] = {}
    for days in chosen:
        for day, count in days.items():
            daily[day] = daily.get(day, 0.0) + count
    return daily


def _calendar(first: date, last: date) -> Iterable[date]:
    return (first + timedelta(days=n) for n in range((last - first).days + 1))


class _Owner:
    """One owner's counts for one KPI, with the sums goals ask of them remembered until the counts change."""

    __slots__ = ("_fsums", "_ordered", "_stocks", "_sums", "chosen", "daily", "first_known")

    def __init__(self, chosen: list[SubjectDays]) -> None:
        self.chosen = chosen
        # One subject: its own map, read-only (0.0 + count is count, in the same order), not a copy.
        self.daily = chosen[0] if len(chosen) == 1 else _owner_daily(chosen)
        self.first_known = min((day for day, count in self.daily.items() if count > 0), default=None)
        days = list(self.daily)
        # Days stored in calendar order (the usual case) can be summed by walking the calendar.
        self._ordered = all(a < b for a, b in pairwise(days))
        self._fsums: dict[tuple[date, date], float] = {}
        self._sums: dict[tuple[date, date], float] = {}
        self._stocks: dict[date, float] = {}

    def flow(self, period: Period, through: date) -> float:
        """Return pace.flow_value(daily, period, through); fsum is exact, so the walk order is free."""
        key = (period.first_day, min(period.last_day, through))
        found = self._fsums.get(key)
        if found is None:
            daily = self.daily
            if key[1] < key[0]:
                found = math.fsum(())
            else:
                found = math.fsum(daily[day] for day in _calendar(*key) if day in daily)
            self._fsums[key] = found
        return found

    def stock(self, on_day: date) -> float:
        """Return evaluate.stock_value for the owner's subjects on `on_day`."""
        found = self._stocks.get(on_day)
        if found is None:
            total = 0.0
            for days in self.chosen:
                known = [day for day in days if day <= on_day]
                if known:
                    total += days[max(known)]
            found = self._stocks[on_day] = total
        return found


class EvaluationCache:
    """What evaluations share across ticks: subject indexes, owners' sums and rate estimates.

    An entry is valid while the configuration and the count mappings it was computed from are the
    same objects: the daemon's counts cache replaces a key's mapping whenever it re-reads it. Rate
    estimates also learn from the days before today, so they are dropped when the day changes.
    """

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[tuple[object, ...], object]] = {}
        self._estimates: dict[Hashable, tuple[tuple[object, ...], RateEstimate]] = {}
        self._day: date | None = None

    def start(self, today: date) -> None:
        """Forget the rate estimates when the day changed."""
        if today != self._day:
            self._estimates.clear()
            self._day = today

    def get(self, key: Hashable, inputs: tuple[object, ...], compute: Callable[[], T]) -> T:
        """Return the entry for `key` when computed from the same `inputs`, else compute and keep it."""
        found = self._entries.get(key)
        if found is not None and _same(found[0], inputs):
            return cast(T, found[1])
        value = compute()
        self._entries[key] = (inputs, value)
        return value

    def estimate(self, key: Hashable, inputs: tuple[object, ...], compute: Callable[[], RateEstimate]) -> RateEstimate:
        """Return the cached estimate for `key` when computed from the same `inputs`, else compute it."""
        found = self._estimates.get(key)
        if found is not None and _same(found[0], inputs):
            return found[1]
        estimate = compute()
        self._estimates[key] = (inputs, estimate)
        return estimate

    def __len__(self) -> int:
        return len(self._entries) + len(self._estimates)


def _same(kept: tuple[object, ...], given: tuple[object, ...]) -> bool:
    return len(kept) == len(given) and all(a is b for a, b in zip(kept, given, strict=True))


class Evaluator:
    """Evaluate goals at one instant over one set of counts, sharing goal-independent work."""

    def __init__(
        self, config: Config, counts: DailyCounts, instant: datetime, cache: EvaluationCache | None = None
    ) -> None:
        self.config = config
        self.cache = EvaluationCache() if cache is None else cache
        self.counts = counts
        self.instant = instant
        self.today = instant.astimezone(config.timezone).date()
        self.cache.start(self.today)
        self._elapsed: dict[tuple[Period, Hashable], float] = {}
        self._periods: dict[object, Period] = {}

    def _inputs(self, kpi: Kpi) -> tuple[object, ...]:
        return (self.config, *(self.counts.get(key) for key in kpi.count_keys))

    def _index(self, kpi: Kpi) -> _SubjectIndex:
        return self.cache.get(
            ("index", kpi.count_keys), self._inputs(kpi), lambda: _SubjectIndex(kpi_counts(kpi, self.counts))
        )

    def _owner(self, kpi: Kpi, owner: str) -> _Owner:
        return self.cache.get(
            ("owner", kpi.name, owner),
            self._inputs(kpi),
            lambda: _Owner(self._index(kpi).chosen(owner_subjects(self.config, kpi, owner))),
        )

    def _period(self, goal: Goal) -> Period:
        spec = goal.period
        found = self._periods.get(spec)
        if found is None:
            found = self._periods[spec] = period_at(self.config, spec, self.instant)
        return found

    def goal(self, goal: Goal) -> GoalStatus:
        """Compute one goal's figures, equal to `evaluate_goal`'s."""
        if goal.checkins:
            # Check-in levels (nested since CONTRACT §7) go through the reference path, goal by goal.
            return evaluate_goal(self.config, goal, self.counts, self.instant)
        config, instant, today = self.config, self.instant, self.today
        tz = config.timezone
        kpi = config.kpis[goal.kpi]
        period = self._period(goal)
        through = min(max(today, period.first_day - timedelta(days=1)), period.last_day)
        owner = self._owner(kpi, goal.owner)
        daily = owner.daily
        stock = kpi.kind == "stock"
        value = owner.stock(through) if stock else owner.flow(period, through)

        key = _curve_key(config, goal)
        note: str | None = None
        if key is None:
            curve, note = pacing_curve(config, goal, period, daily)
            weights = day_weights(period, curve)
            total_weight = period_weight(period, weights)
            elapsed = elapsed_fraction(period, weights, instant, tz)
        else:
            curve, _ = pacing_curve(config, goal, period, daily)
            weights = _weights(period, key, curve)
            total_weight = _total_weight(period, key, curve)
            elapsed = self._elapsed.get((period, key), -1.0)
            if elapsed < 0:
                elapsed = self._elapsed[(period, key)] = elapsed_fraction(period, weights, instant, tz)
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
            None if stock else self._probability(goal, kpi, period, key, curve, owner, value, total_weight, elapsed)
        )
        if stock:
            # A stock's projection comes from its level trend (evaluate._stock_figures), goal by goal.
            figures, probability = _stock_figures(
                goal,
                period,
                figures,
                self._index(kpi).by_subject,
                owner_subjects(config, kpi, goal.owner),
                through,
                value,
                instant,
                tz,
            )
        trail = goal_trail(
            period,
            weights,
            goal.target,
            through=min(through, today),
            daily=None if stock else daily,
            levels={d: owner.stock(d) for d in period.days() if d <= through} if stock else None,
            baseline=goal.baseline if stock else None,
        )
        # Goals with check-ins took the reference path above: there are none to add here.
        return goal_status(
            config, goal, kpi, period, value=value, figures=figures, probability=probability,
            checkpoints=(), trail=trail, note=note,
        )  # fmt: skip

    def _probability(
        self,
        goal: Goal,
        kpi: Kpi,
        period: Period,
        key: Hashable | None,
        curve: PacingCurve,
        owner: _Owner,
        value: float,
        total_weight: float,
        elapsed: float,
    ) -> float:
        # forecast_bridge.goal_hit_probability with the curve's days shared between goals, and the
        # owner's rate estimate reused until its inputs change (new counts, a new day).
        daily = owner.daily
        first_known = period.first_day if owner.first_known is None else owner.first_known
        history_start = max(period.first_day - TRAILING_HISTORY, min(first_known, period.first_day))
        planned_rate = goal.target / total_weight if total_weight > 0 else 0.0
        today = self.today

        def estimate() -> RateEstimate:
            if key is None:
                weights = day_weights(period, curve)
                if history_start < period.first_day:
                    trailing = custom_period(history_start, period.first_day - timedelta(days=1))
                    weights = {**day_weights(trailing, curve), **weights}
                pairs: Iterable[tuple[date, float]] = ((day, weights[day]) for day in sorted(weights))
            else:
                pairs = _forecast_days(period, history_start, key, curve)
            history = [(daily.get(day, 0.0), weight) for day, weight in pairs if day < today]
            return estimate_rate(history, planned_rate=planned_rate)

        cache_key = (goal.kpi, goal.owner, period, key, history_start, today, planned_rate)
        cached = partial(self.cache.estimate, cache_key, self._inputs(kpi), estimate)
        return hit_probability_given(
            value=value, target=goal.target, remaining_weight=total_weight * (1 - elapsed), estimate=cached
        )


def evaluate_goals_fast(
    config: Config, counts: DailyCounts, instant: datetime, cache: EvaluationCache | None = None
) -> tuple[GoalStatus, ...]:
    """Compute every configured goal's figures at `instant`, equal to `evaluate_goals`'."""
    evaluator = Evaluator(config, counts, instant, cache)
    return tuple(evaluator.goal(goal) for goal in config.goals)
