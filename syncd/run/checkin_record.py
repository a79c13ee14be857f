"""Judge every goal's finished check-ins from stored data and store the results (daemon and CLI alike)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import Engine

from syncd.engine.checkin_results import CheckinResult, group_by_goal
from syncd.engine.checkins import GoalVersionAt, SourceCoverage, judge_checkins
from syncd.engine.evaluate import CountKey, DailyCounts, owner_subjects
from syncd.engine.shared_work import held_weakly, same_as_held
from syncd.model import Config, Goal
from syncd.registry import load_registry
from syncd.store.checkin_repository import (
    StoredCoverage,
    load_checkin_results,
    load_stored_coverage,
    save_checkin_results,
)
from syncd.store.goal_history import goal_definition, goal_key, goal_version_at, versions_by_goal
from syncd.store.goal_repository import GoalVersion, StoredVersions, reload_goal_versions

__all__ = [
    "JudgingMemo",
    "changed_results",
    "configured_results",
    "judge_all",
    "load_judging_inputs",
    "record_checkin_results",
    "source_coverage",
    "store_checkin_results",
    "stored_checkin_results",
]


def source_coverage(config: Config, stored: Mapping[str, StoredCoverage]) -> dict[str, SourceCoverage]:
    """Combine what the store knows of each configured source with its lookback and kind (push or pulled)."""
    registry = load_registry()
    out: dict[str, SourceCoverage] = {}
    for name, source in config.sources.items():
        known = stored.get(name, StoredCoverage(None, None))
        out[name] = SourceCoverage(
            first_day=known.first_day,
            synced_until=known.cursor_end,
            lookback=source.settings.lookback,
            # Push sources have nothing to pull: their counts arrive over HTTP, with no cursor.
            pulled=bool(getattr(registry.get(source.connector), "pull", True)),
        )
    return out


def _version_lookup(history: Sequence[GoalVersion], goal: Goal) -> GoalVersionAt:
    # Without stored history the file is the only version there is. The goal's own versions only:
    # looking through every goal's, for every check-in of every goal, made 10,000 goals take minutes.
    if len(history) == 1 and history[0].definition == goal_definition(goal):
        # Never renegotiated (most goals): the one version, in force at every instant asked about
        # (before it, the first one is), is the configured goal; parsing its text again for each
        # goal held 10,000 more goals in the parse cache and missed it every judging.
        return lambda _at: goal

    def version_at(at: datetime) -> Goal:
        return goal_version_at(goal, history, at)

    return version_at


def _own_counts(config: Config, counts: DailyCounts) -> Callable[[Goal], DailyCounts]:
    """Return each goal's counts narrowed to its owner's subjects, the same sums as the whole counts.

    Judging reads a KPI's counts through the owner's subjects; handed every subject, each check-in of
    each goal scanned all of them (10,000 goals: minutes). The subjects keep their stored order, so
    per-day sums add up in the same order. KPIs over several sources, or counting every subject,
    get the whole counts.
    """
    positions: dict[CountKey, dict[str, list[tuple[int, str]]]] = {}

    def narrowed(goal: Goal) -> DailyCounts:
        kpi = config.kpis[goal.kpi]
        subjects = owner_subjects(config, kpi, goal.owner) if len(kpi.sources) == 1 else None
        if subjects is None:
            return counts
        key = kpi.count_keys[0]
        by_subject = counts.get(key, {})
        index = positions.get(key)
        if index is None:
            index = positions[key] = {}
            for position, subject in enumerate(by_subject):
                index.setdefault(subject.casefold(), []).append((position, subject))
        picked = sorted(found for wanted in subjects for found in index.get(wanted, ()))
        return {key: {subject: by_subject[subject] for _, subject in picked}}

    return narrowed


class JudgingMemo:
    """Each goal's last judged results with what they were judged from, reused while all of it stands.

    A goal's judgement depends on the configuration, the local day, the coverage, its stored
    versions and its owner's day maps (the counts cache replaces a map when it re-reads it, never
    edits one). Judging again after a push re-judges the goals of the owners it touched, not 10,000.
    """

    def __init__(self) -> None:
        self._goals: dict[int, tuple[Goal, tuple[object, ...], list[GoalVersion], list[CheckinResult], date]] = {}
        self._coverage: Mapping[str, SourceCoverage] | None = None
        self._day: date | None = None

    def start(self, today: date) -> None:
        """Judge every goal again from this day on (check-ins close as days end)."""
        self._day = today

    def coverage_token(self, coverage: Mapping[str, SourceCoverage]) -> Mapping[str, SourceCoverage]:
        """Return the kept coverage when equal to `coverage` (so goals compare it by identity), else keep this one."""
        if self._coverage is None or self._coverage != coverage:
            self._coverage = coverage
        return self._coverage

    def results(
        self, goal: Goal, inputs: tuple[object, ...], versions: list[GoalVersion]
    ) -> list[CheckinResult] | None:
        """Return the goal's results judged today from these same inputs, else None."""
        found = self._goals.get(id(goal))
        if found is None or found[0] is not goal or found[4] != self._day or found[2] != versions:
            return None
        return found[3] if same_as_held(found[1], inputs) else None

    def keep(
        self, goal: Goal, inputs: tuple[object, ...], versions: list[GoalVersion], results: list[CheckinResult]
    ) -> list[CheckinResult]:
        """Keep the goal's results with what they were judged from; return them as kept.

        Results equal to the goal's previous ones are kept as those objects: the daemon's published
        results are the previous ones, and a re-judging that moved nothing must not hold a second copy.
        """
        previous = self._goals.get(id(goal))
        if previous is not None and previous[0] is goal:
            # Each judging groups the stored versions by goal anew: keep one list per goal, not one per judging.
            versions = previous[2] if previous[2] == versions else versions
            if previous[3] == results:
                results = previous[3]
            else:
                # A push moves the goal's latest check-ins, not the earlier ones: those stay the
                # objects the daemon already holds (half of 51,000 results after a month of counts).
                reuse = _held_where_equal(previous[3])
                results = [reuse(result) for result in results]
        assert self._day is not None  # judge_all started the day
        self._goals[id(goal)] = (goal, held_weakly(inputs), versions, results, self._day)
        return results


def judge_all(
    config: Config,
    counts: DailyCounts,
    instant: datetime,
    versions: Sequence[GoalVersion],
    coverage: Mapping[str, SourceCoverage],
    memo: JudgingMemo | None = None,
) -> list[CheckinResult]:
    """Judge the finished check-ins of every configured goal that has check-ins.

    With a `memo`, a goal whose inputs have not changed since it was last judged keeps its results.
    """
    by_key = versions_by_goal(versions)
    own_counts = _own_counts(config, counts)
    known: dict[Hashable, tuple[int, bool]] = {}  # what the coverage says of each check-in, asked once
    today = instant.astimezone(config.timezone).date()
    if memo is not None:
        memo.start(today)
        coverage = memo.coverage_token(coverage)
    out: list[CheckinResult] = []
    for goal in config.goals:
        if not goal.checkins:
            continue
        goal_counts = own_counts(goal)
        history = by_key.get(goal_key(goal), [])
        inputs: tuple[object, ...] = ()
        if memo is not None:
            if goal_counts is counts:  # every subject counts (or several sources): the KPI's mappings
                maps: list[object] = [counts.get(key) for key in config.kpis[goal.kpi].count_keys]
            else:  # the owner's own day maps
                maps = [days for by_subject in goal_counts.values() for days in by_subject.values()]
            inputs = (config, coverage, *maps)
            kept = memo.results(goal, inputs, history)
            if kept is not None:
                out.extend(kept)
                continue
        results = judge_checkins(
            config,
            goal,
            goal_counts,
            instant,
            version_at=_version_lookup(history, goal),
            coverage=coverage,
            known=known,
        )
        if memo is not None:
            results = memo.keep(goal, inputs, history, results)
        out.extend(results)
    return out


def changed_results(judged: Sequence[CheckinResult], stored: Sequence[CheckinResult]) -> list[CheckinResult]:
    """Return the judged results that differ from the stored ones (a final stored result never changes).

    Most check-ins are judged the same way every time: writing only the others keeps a re-judging of
    10,000 goals from upserting 45,000 unchanged rows.
    """
    # By goal, a handful each: a key tuple per stored result was megabytes at 50,000 results.
    known = group_by_goal(stored)
    out: list[CheckinResult] = []
    for result in judged:
        same = (
            r for r in known.get(result.goal_key, ()) if (r.level, r.checkpoint) == (result.level, result.checkpoint)
        )
        before = next(same, None)
        if before is None or (not before.final and before != result):
            out.append(result)
    return out


def configured_results(config: Config, results: Sequence[CheckinResult]) -> tuple[CheckinResult, ...]:
    """Keep the results of goals still configured, so a removed goal's history does not show."""
    keys = {goal_key(goal) for goal in config.goals}
    return tuple(result for result in results if result.goal_key in keys)


def load_judging_inputs(
    engine: Engine, config: Config, held: StoredVersions | None = None
) -> tuple[StoredVersions, dict[str, SourceCoverage]]:
    """Read what judging needs besides the counts: every stored goal version and the sources' coverage.

    `held`: the versions the last judging read, returned as they are while the table is unchanged.
    """
    return reload_goal_versions(engine, held), source_coverage(config, load_stored_coverage(engine))


def store_checkin_results(
    engine: Engine,
    config: Config,
    results: Sequence[CheckinResult],
    instant: datetime,
    *,
    held: Iterable[CheckinResult] = (),
) -> tuple[CheckinResult, ...]:
    """Store judged results (final ones stay as they are) and return the configured goals' stored results.

    A stored result equal to one in `held` (the judging memo's) is returned as that object: the
    daemon keeps both, and 10,000 goals' 50,000 results twice over were 7 MB of its memory.
    """
    save_checkin_results(engine, results, instant)
    return stored_checkin_results(engine, config, held=held)


def stored_checkin_results(
    engine: Engine, config: Config, *, held: Iterable[CheckinResult] = ()
) -> tuple[CheckinResult, ...]:
    """Return the configured goals' stored results, as the objects in `held` where equal (store_checkin_results)."""
    return configured_results(config, load_checkin_results(engine, reuse=_held_where_equal(held)))


def _held_where_equal(held: Iterable[CheckinResult]) -> Callable[[CheckinResult], CheckinResult]:
    # By goal, a handful of results each: a key tuple per result was 6 MB more at 50,000 results.
    by_goal = group_by_goal(held)

    def reuse(result: CheckinResult) -> CheckinResult:
        return next((kept for kept in by_goal.get(result.goal_key, ()) if kept == result), result)

    return reuse


def record_checkin_results(
    engine: Engine, config: Config, counts: DailyCounts, instant: datetime
) -> tuple[CheckinResult, ...]:
    """Judge, store (final results stay as they are) and return the configured goals' stored results."""
    stored, coverage = load_judging_inputs(engine, config)
    return store_checkin_results(engine, config, judge_all(config, counts, instant, stored.versions, coverage), instant)
