"""Evaluate many goals at one instant, each piece of work redone only when what it depends on changes.

`syncd.engine.evaluate.evaluate_goal` is the reference: it recomputes everything for every goal and
scans every subject of a KPI to find the owner's. Here the work is split by what it depends on:

- per (period, curve), shared by every goal: period days, weights, W, check-in targets, the
  expected trail and E(t)'s day clock (`pace.DayClock`);
- per goal and local day, while the goal's count mappings are the same objects (`_GoalDay`): the
  value, check-in values, the actual trail, the forecast (docs/forecast.md: it moves with new counts
  and new days only), a stock's level series, and every part of the status but the instant's figures;
- per instant: E(t) once per day clock, then each goal's pace figures (and a stock's level trend).

The figures are the reference's to the last bit: the same primitives run on the same inputs
(tests/test_fast_evaluate.py compares both on random goals, and again after time, counts and the
day moved).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import TypeVar, cast
from zoneinfo import ZoneInfo

from syncd.engine.collector import collector_paused
from syncd.engine.evaluate import (
    DailyCounts,
    goal_status,
    kpi_counts,
    owner_subjects,
    pacing_curve,
    period_at,
    stock_figures,
)
from syncd.engine.forecast import RateEstimate, estimate_from_blocks, estimate_rate, hit_probability_given
from syncd.engine.forecast_bridge import TRAILING_HISTORY, remaining_weight
from syncd.engine.pace import (
    DayClock,
    PaceFigures,
    checkin_asks_nothing,
    checkin_holding,
    checkin_target,
    day_clock,
    pace_figures,
    period_weight,
)
from syncd.engine.periods import CheckinKind, Period, checkin_periods, custom_period
from syncd.engine.series import DayEdges, DaySeries
from syncd.engine.shared_work import curve_key, period_days, period_weights, remember, same_objects
from syncd.engine.snapshot import CheckpointStatus, GoalStatus
from syncd.engine.stock_trend import chosen_level_series, level_on
from syncd.engine.trail import GoalTrail, actual_trail, expected_trail
from syncd.engine.weights import PacingCurve, day_weights
from syncd.model import Config, Goal, Kpi

__all__ = ["EvaluationCache", "Evaluator", "evaluate_goals_fast"]

SubjectDays = Mapping[date, float]
# Distinct pace inputs kept per day: values move with every push, and each day starts afresh.
_PACE_SLOT_LIMIT = 200_000
T = TypeVar("T")


def _total_weight(period: Period, key: Hashable, curve: PacingCurve) -> float:
    return remember(("total", period, key), lambda: period_weight(period, period_weights(period, key, curve)))


def _forecast_days(
    period: Period, history_start: date, key: Hashable | None, curve: PacingCurve
) -> tuple[tuple[date, float], ...]:
    """Return the forecast's (day, weight) pairs in day order, trailing weeks included (forecast_bridge)."""

    def compute() -> tuple[tuple[date, float], ...]:
        weights = day_weights(period, curve) if key is None else period_weights(period, key, curve)
        if history_start < period.first_day:
            trailing = custom_period(history_start, period.first_day - timedelta(days=1))
            weights = {**day_weights(trailing, curve), **weights}
        return tuple((day, weights[day]) for day in sorted(weights))

    return compute() if key is None else remember(("forecast", period, history_start, key), compute)


class _BlockPlan:
    """The forecast's weighted blocks (forecast._weighted_blocks) as runs of days, shared by owners.

    A day with weight starts a block; the weightless days after it join it, and weightless days
    before the first weighted one join the first block. Which days form which block depends only on
    the curve and the day, so each owner's block counts are sums over these runs (prefix sums).
    """

    __slots__ = ("edges", "total_weight", "weights")

    def __init__(self, pairs: Sequence[tuple[date, float]], today: date) -> None:
        starts: list[int] = []
        weights: list[float] = []
        stop = 0
        for day, weight in pairs:
            if day >= today:
                break
            # The same checks, in the same order, as the reference makes of each day's weight.
            if not math.isfinite(weight) or weight < 0.0:
                raise ValueError(f"a history weight must be a finite number >= 0, not {weight}")
            stop = day.toordinal() + 1
            if weight > 0.0:
                starts.append(stop - 1)
                weights.append(weight)
        if starts and pairs:
            starts[0] = pairs[0][0].toordinal()  # leading weightless days are carried into the first block
        # Block i runs from edges[i] up to edges[i + 1]: each block ends where the next starts.
        self.edges = DayEdges([*starts, stop] if starts else [])
        self.weights = tuple(weights)
        self.total_weight = math.fsum(weights)


class _CurveDay:
    """What the goals of one period and named curve share at one evaluator's local day.

    Each part comes from the process-wide memo (shared_work.remember), so evaluations share it; kept
    here as well, so each goal finds it by one (period, curve) lookup instead of hashing a composite
    key per part.
    """

    __slots__ = ("_blocks", "_checkins", "_targets", "_trails", "clock", "curve", "key", "period", "total_weight",
                 "weights")  # fmt: skip

    def __init__(self, period: Period, key: Hashable, curve: PacingCurve, today: date, tz: ZoneInfo) -> None:
        self.period, self.key, self.curve = period, key, curve
        weights = self.weights = period_weights(period, key, curve)
        self.total_weight = _total_weight(period, key, curve)
        self.clock = remember(("clock", period, key, today, tz), lambda: day_clock(period, weights, today, tz))
        self._blocks: dict[date, _BlockPlan] = {}
        self._checkins: dict[CheckinKind, Period | None] = {}
        self._targets: dict[tuple[Period, float], float] = {}
        self._trails: dict[tuple[float, float | None], tuple[float, ...]] = {}

    def blocks(self, history_start: date, today: date) -> _BlockPlan:
        """Return the forecast's blocks for owners whose history starts on `history_start`."""
        found = self._blocks.get(history_start)
        if found is None:
            period, key, curve = self.period, self.key, self.curve
            found = self._blocks[history_start] = remember(
                ("blocks", period, history_start, key, today),
                lambda: _BlockPlan(_forecast_days(period, history_start, key, curve), today),
            )
        return found

    def checkin(self, level: CheckinKind, week_start: int, day: date) -> Period | None:
        """Return the level's check-in holding `day` when the curve asks something of it, else None."""
        if level in self._checkins:
            return self._checkins[level]
        period, key, weights = self.period, self.key, self.weights
        subs = remember(
            ("checkins", period, level, week_start), partial(checkin_periods, period, level, week_start=week_start)
        )
        sub = checkin_holding(subs, day)
        # A check-in the curve asks nothing of is not judged either.
        if sub is not None and remember(("asks nothing", sub, key), partial(checkin_asks_nothing, sub, weights)):
            sub = None
        self._checkins[level] = sub
        return sub

    def checkin_target(self, target: float, sub: Period) -> float:
        """Return pace.checkin_target for a goal of this curve."""
        found = self._targets.get((sub, target))
        if found is None:
            found = self._targets[(sub, target)] = remember(
                ("checkin target", target, sub, self.period, self.key),
                partial(checkin_target, target, sub, self.period, self.weights),
            )
        return found

    def expected_trail(self, target: float, baseline: float | None) -> tuple[float, ...]:
        """Return trail.expected_trail for a goal of this curve."""
        found = self._trails.get((target, baseline))
        if found is None:
            period, weights = self.period, self.weights
            found = self._trails[(target, baseline)] = remember(
                ("trail", period, self.key, target, baseline),
                lambda: expected_trail(period_days(period), weights, target, baseline),
            )
        return found


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

    __slots__ = ("_fsums", "_stocks", "chosen", "daily", "first_known", "series")

    def __init__(self, chosen: list[SubjectDays]) -> None:
        self.chosen = chosen
        # One subject: its own map, read-only (0.0 + count is count, in the same order), not a copy.
        self.daily = chosen[0] if len(chosen) == 1 else _owner_daily(chosen)
        self.series = DaySeries(self.daily)
        self.first_known = self.series.first_positive
        self._fsums: dict[tuple[date, date], float] = {}
        self._stocks: dict[date, float] = {}

    def flow(self, period: Period, through: date) -> float:
        """Return pace.flow_value(daily, period, through); fsum is exact, so the walk order is free."""
        key = (period.first_day, min(period.last_day, through))
        if self.series.exact:
            return self.series.total(*key)
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
            found = self._stocks[on_day] = level_on(self.chosen, on_day)
        return found


class _PaceSlot:
    """The pace figures of one set of inputs besides E(t), at the last instant they were asked for.

    Goals of one target and curve often stand at the same small whole value: the goal days with
    equal inputs (_pace_key) share one slot, so an instant computes their figures once, and a tick
    finds them by the goal day's slot without hashing the inputs again.
    """

    __slots__ = ("clock", "latest")

    def __init__(self, clock: DayClock) -> None:
        self.clock = clock  # held, so no other clock takes its id (part of the key) meanwhile
        # (evaluator token, figures) in one tuple: one assignment, so a concurrent evaluator never
        # reads one evaluator's token with another's figures.
        self.latest: tuple[object, PaceFigures | None] = (None, None)


class _GoalDay:
    """One goal's figures that hold for a whole local day, while its counts stay the same objects."""

    __slots__ = ("clock", "latest", "pace", "period", "series", "status", "stock", "total_weight", "value")

    def __init__(
        self,
        *,
        clock: DayClock,
        pace: _PaceSlot,
        period: Period,
        series: list[tuple[float, float]] | None,
        status: GoalStatus,
        stock: bool,
        total_weight: float,
        value: float,
    ) -> None:
        self.clock = clock
        self.period = period
        self.series = series  # a stock's level series, for its trend at each instant
        self.status = status  # the status at the instant the day state was made
        self.stock = stock
        self.total_weight = total_weight
        self.value = value
        self.latest = status  # the last status made from this day state (Evaluator.goal's `unless_changed`)
        self.pace = pace  # shared by the goal days with the same pace_figures inputs besides E(t) (_pace_key)


def _pace_key(clock: DayClock, value: float, total_weight: float, stock: bool, goal: Goal) -> tuple[object, ...]:
    # What pace_figures is given besides E(t), as exact bits (0.0 and -0.0 differ).
    baseline = goal.baseline if stock else None
    return (
        id(clock),
        value.hex(),
        goal.target.hex(),
        total_weight.hex(),
        goal.tolerance.hex(),
        None if baseline is None else baseline.hex(),
        goal.direction,
    )


class EvaluationCache:
    """What evaluations share across ticks: subject indexes, owners' sums, rate estimates, goal days.

    An entry is valid while the configuration and the count mappings it was computed from are the
    same objects: the daemon's counts cache replaces a key's mapping whenever it re-reads it. Rate
    estimates and goal days also depend on the day, so they are dropped when the day changes.
    """

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[tuple[object, ...], object]] = {}
        self._pace_slots: dict[tuple[object, ...], _PaceSlot] = {}
        self._estimates: dict[Hashable, tuple[tuple[object, ...], RateEstimate]] = {}
        self._days: dict[int, tuple[Goal, object, _GoalDay, object]] = {}
        self._day: date | None = None

    def start(self, today: date) -> None:
        """Forget what depends on the day when the day changed."""
        if today != self._day:
            self._estimates.clear()
            self._days.clear()
            self._pace_slots.clear()
            self._day = today

    def get(self, key: Hashable, inputs: tuple[object, ...], compute: Callable[[], T]) -> T:
        """Return the entry for `key` when computed from the same `inputs`, else compute and keep it."""
        found = self._entries.get(key)
        if found is not None and same_objects(found[0], inputs):
            return cast(T, found[1])
        value = compute()
        self._entries[key] = (inputs, value)
        return value

    def estimate(self, key: Hashable, inputs: tuple[object, ...], compute: Callable[[], RateEstimate]) -> RateEstimate:
        """Return the cached estimate for `key` when computed from the same `inputs`, else compute it."""
        found = self._estimates.get(key)
        if found is not None and same_objects(found[0], inputs):
            return found[1]
        estimate = compute()
        self._estimates[key] = (inputs, estimate)
        return estimate

    def goal_day(self, goal: Goal, owner: object) -> _GoalDay | None:
        """Return the goal's day state when made today for this goal object from this owner's counts, else None.

        The owner's counts object stands for the configuration and the owner's day maps (Evaluator._owner).
        """
        # Keyed by the goal object's id; the entry holds the goal itself, so a reused id cannot match.
        found = self._days.get(id(goal))
        return found[2] if found is not None and found[0] is goal and found[1] is owner else None

    def goal_day_seen(self, goal: Goal, index: object) -> _GoalDay | None:
        """Return the goal's day state when last kept while its KPI's subject index was this same object.

        The index stands for the configuration and the KPI's count mappings (Evaluator._index): while
        it is the same object, the owner's day maps are too, and a tick need not look them up again.
        """
        found = self._days.get(id(goal))
        return found[2] if found is not None and found[0] is goal and found[3] is index else None

    def keep_goal_day(self, goal: Goal, owner: object, day: _GoalDay, index: object = None) -> None:
        """Keep a goal's day state until its owner's counts or the day change."""
        self._days[id(goal)] = (goal, owner, day, index)

    def pace_slot(self, key: tuple[object, ...], clock: DayClock) -> _PaceSlot:
        """Return the slot of the pace inputs `key` (exact bits, the day clock's id first), made the first time."""
        found = self._pace_slots.get(key)
        if found is None:
            if len(self._pace_slots) >= _PACE_SLOT_LIMIT:
                self._pace_slots.clear()  # kept goal days keep their slots; new ones just share less
            found = self._pace_slots[key] = _PaceSlot(clock)
        return found

    def __len__(self) -> int:
        return len(self._entries) + len(self._estimates) + len(self._days)


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
        # E(t) by id of its day clock, the clock held too: no other clock can take its id meanwhile.
        self._elapsed: dict[int, tuple[DayClock, float]] = {}
        self._periods: dict[object, Period] = {}
        self._kpi_inputs: dict[str, tuple[object, ...]] = {}
        self._indexes: dict[str, _SubjectIndex] = {}  # by KPI name: one look at the cache per KPI, not per goal
        self._curve_days: dict[tuple[Period, Hashable], _CurveDay] = {}
        # Pace figures at this instant by their inputs (_PaceSlot): pace_figures is a pure function,
        # and goals of one target and curve often have the same value (counts are small whole numbers).
        self._token = object()

    def _inputs(self, kpi: Kpi) -> tuple[object, ...]:
        found = self._kpi_inputs.get(kpi.name)
        if found is None:
            found = self._kpi_inputs[kpi.name] = (self.config, *(self.counts.get(key) for key in kpi.count_keys))
        return found

    def _index(self, name: str) -> _SubjectIndex:
        # By the goals' KPI name (the configuration's key), as Evaluator.goal reads it.
        found = self._indexes.get(name)
        if found is None:
            kpi = self.config.kpis[name]
            found = self._indexes[name] = self.cache.get(
                ("index", kpi.count_keys), self._inputs(kpi), lambda: _SubjectIndex(kpi_counts(kpi, self.counts))
            )
        return found

    def _owner(self, kpi: Kpi, owner: str, index: _SubjectIndex) -> _Owner:
        """Return the owner's counts, the same object while the owner's own day maps are the same objects.

        Keyed by the owner's maps, not the KPI's: a push re-reads a few subjects' days, and only
        their owners' goals are worked out again, not every goal of the KPI.
        """
        subjects = self.cache.get(
            ("subjects", kpi.name, owner), (self.config,), lambda: owner_subjects(self.config, kpi, owner)
        )
        chosen = index.chosen(subjects)
        return self.cache.get(("owner", kpi.name, owner), (self.config, *chosen), lambda: _Owner(chosen))

    def _period(self, goal: Goal) -> Period:
        spec = goal.period
        found = self._periods.get(spec)
        if found is None:
            found = self._periods[spec] = period_at(self.config, spec, self.instant)
        return found

    def goal(self, goal: Goal, unless_changed: GoalStatus | None = None) -> GoalStatus:
        """Compute one goal's figures, equal to `evaluate_goal`'s.

        `unless_changed`: a status this evaluator's cache made earlier today; it is returned as it is
        when the goal's counts have not changed since (a refresh after a push keeps the figures of
        goals the push did not touch, as it keeps other KPIs' goals; the next tick moves their time).
        """
        # A tick's path (the day state kept, the KPI's index seen) is a few lookups per goal.
        index = self._indexes.get(goal.kpi)
        if index is None:
            index = self._index(goal.kpi)
        day = self.cache.goal_day_seen(goal, index)
        if day is None:
            kpi = self.config.kpis[goal.kpi]
            owner = self._owner(kpi, goal.owner, index)
            day = self.cache.goal_day(goal, owner)
            if day is None:
                day = self._goal_day(goal, kpi, owner)
                self.cache.keep_goal_day(goal, owner, day, index)
                day.latest = day.status
                return day.status  # made at this instant
            self.cache.keep_goal_day(goal, owner, day, index)
        if unless_changed is not None and unless_changed is day.latest:
            return unless_changed
        token, figures = day.pace.latest
        if token is not self._token or figures is None:
            figures = self._figures(goal, day)
        probability = day.status.hit_probability
        if day.series is not None:
            figures, probability = stock_figures(
                goal, day.period, figures, day.series, day.value, self.instant, self.config.timezone
            )
        day.latest = day.status.at_instant(figures, probability)
        return day.latest

    def _elapsed_at(self, clock: DayClock) -> float:
        found = self._elapsed.get(id(clock))
        if found is None:
            found = self._elapsed[id(clock)] = (clock, clock.at(self.instant))
        return found[1]

    def _figures(self, goal: Goal, day: _GoalDay) -> PaceFigures:
        slot = day.pace
        token, found = slot.latest
        if token is not self._token or found is None:
            found = pace_figures(
                value=day.value,
                target=goal.target,
                elapsed=self._elapsed_at(day.clock),
                total_weight=day.total_weight,
                tolerance=goal.tolerance,
                baseline=goal.baseline if day.stock else None,
                direction=goal.direction,
            )
            slot.latest = (self._token, found)
        return found

    def _goal_day(self, goal: Goal, kpi: Kpi, owner: _Owner) -> _GoalDay:
        """Work out what holds for the goal all day: value, curve, check-ins, trail, forecast, status."""
        config, today = self.config, self.today
        tz = config.timezone
        period = self._period(goal)
        through = min(max(today, period.first_day - timedelta(days=1)), period.last_day)
        daily = owner.daily
        stock = kpi.kind == "stock"
        value = owner.stock(through) if stock else owner.flow(period, through)

        key = curve_key(config, goal)
        curve, note = pacing_curve(config, goal, period, daily)
        shared: _CurveDay | None = None
        if key is None:
            weights = day_weights(period, curve)
            total_weight = period_weight(period, weights)
            clock = day_clock(period, weights, today, tz)
        else:
            shared = self._curve_days.get((period, key))
            if shared is None:
                shared = self._curve_days[(period, key)] = _CurveDay(period, key, curve, today, tz)
            weights, total_weight, clock = shared.weights, shared.total_weight, shared.clock
        pace = self.cache.pace_slot(_pace_key(clock, value, total_weight, stock, goal), clock)
        day = _GoalDay(
            clock=clock, pace=pace, period=period, series=None, status=cast(GoalStatus, None), stock=stock,
            total_weight=total_weight, value=value,
        )  # fmt: skip
        figures = self._figures(goal, day)
        probability: float | None = None
        if stock:
            # A stock's projection comes from its level trend, refitted at each instant (it moves with time).
            day.series = chosen_level_series(owner.chosen, period, through)
            figures, probability = stock_figures(goal, period, figures, day.series, value, self.instant, tz)
        else:
            remaining = remaining_weight(total_weight, clock)
            probability = self._probability(goal, period, key, shared, curve, owner, value, total_weight, remaining)
        day.status = goal_status(
            config, goal, kpi, period, value=value, figures=figures, probability=probability,
            checkpoints=self._checkpoints(goal, period, shared, weights, owner, stock),
            trail=self._trail(goal, period, shared, weights, owner, stock, min(through, today), through),
            note=note,
        )  # fmt: skip
        return day

    def _checkpoints(
        self,
        goal: Goal,
        period: Period,
        shared: _CurveDay | None,
        weights: Mapping[date, float],
        owner: _Owner,
        stock: bool,
    ) -> tuple[CheckpointStatus, ...]:
        # evaluate._current_checkpoints, with the check-ins and their targets shared per period and curve.
        today, week_start = self.today, self.config.week_start
        day = min(max(today, period.first_day), period.last_day)
        out: list[CheckpointStatus] = []
        for level in goal.checkins:
            if shared is not None:
                sub = shared.checkin(level, week_start, day)
            else:
                sub = checkin_holding(checkin_periods(period, level, week_start=week_start), day)
                if sub is not None and checkin_asks_nothing(sub, weights):  # not judged either
                    sub = None
            if sub is None:
                continue
            through = min(today, sub.last_day)
            value = owner.stock(through) if stock else owner.flow(sub, through)
            if shared is None:
                target = checkin_target(goal.target, sub, period, weights)
            else:
                target = shared.checkin_target(goal.target, sub)
            out.append(CheckpointStatus(id=sub.id, target=target, value=value, level=level))
        return tuple(out)

    def _trail(
        self,
        goal: Goal,
        period: Period,
        shared: _CurveDay | None,
        weights: Mapping[date, float],
        owner: _Owner,
        stock: bool,
        through: date,
        value_through: date,
    ) -> GoalTrail:
        # trail.goal_trail, with the expected half shared by goals of one period, curve and target.
        baseline = goal.baseline if stock else None
        if shared is None:
            expected = expected_trail(period_days(period), weights, goal.target, baseline)
        else:
            expected = shared.expected_trail(goal.target, baseline)
        if stock:
            days: Sequence[date] = period_days(period)
            levels = {d: owner.stock(d) for d in days if d <= value_through}
            return GoalTrail(expected, actual_trail(days, through, levels=levels))
        if owner.series.exact:
            return GoalTrail(expected, totals=owner.series, first=period.first_day, last=min(through, period.last_day))
        return GoalTrail(expected, actual_trail(period_days(period), through, daily=owner.daily))

    def _probability(
        self,
        goal: Goal,
        period: Period,
        key: Hashable | None,
        shared: _CurveDay | None,
        curve: PacingCurve,
        owner: _Owner,
        value: float,
        total_weight: float,
        remaining_weight: float,
    ) -> float:
        # forecast_bridge.goal_hit_probability with the curve's days shared between goals, and the
        # owner's rate estimate reused until its inputs change (new counts, a new day).
        daily = owner.daily
        first_known = period.first_day if owner.first_known is None else owner.first_known
        history_start = max(period.first_day - TRAILING_HISTORY, min(first_known, period.first_day))
        planned_rate = goal.target / total_weight if total_weight > 0 else 0.0
        today = self.today

        def estimate() -> RateEstimate:
            if owner.series.exact:
                if shared is None:
                    plan = _BlockPlan(_forecast_days(period, history_start, key, curve), today)
                else:
                    plan = shared.blocks(history_start, today)
                counts, total_count = owner.series.blocks(plan.edges)
                return estimate_from_blocks(
                    counts,
                    plan.weights,
                    total_weight=plan.total_weight,
                    planned_rate=planned_rate,
                    total_count=total_count,
                )
            pairs = _forecast_days(period, history_start, key, curve)
            history = [(daily.get(day, 0.0), weight) for day, weight in pairs if day < today]
            return estimate_rate(history, planned_rate=planned_rate)

        cache_key = (goal.kpi, goal.owner, period, key, history_start, planned_rate)
        cached = partial(self.cache.estimate, cache_key, (owner,), estimate)
        return hit_probability_given(
            value=value, target=goal.target, remaining_weight=remaining_weight, estimate=cached
        )


def evaluate_goals_fast(
    config: Config, counts: DailyCounts, instant: datetime, cache: EvaluationCache | None = None
) -> tuple[GoalStatus, ...]:
    """Compute every configured goal's figures at `instant`, equal to `evaluate_goals`'."""
    evaluator = Evaluator(config, counts, instant, cache)
    with collector_paused():
        return tuple(evaluator.goal(goal) for goal in config.goals)
