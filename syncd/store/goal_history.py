"""Goal history: record each goal definition when the configuration is loaded; read the goals as they stood.

A goal may be renegotiated mid-period (a new target, a stretch). Loading the configuration
records the definitions (syncd.store.goal_repository); `status --as-of` and every evaluation
at an instant use the version in force then.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import cast

from sqlalchemy import Engine

from syncd.model import (
    CheckinKind,
    Config,
    CustomWeightsSpec,
    FixedPeriodSpec,
    Goal,
    PacingSpec,
    PeriodKind,
    RecurringPeriodSpec,
)
from syncd.sharding import goal_in_shard
from syncd.store.goal_repository import GoalVersion, load_goal_versions, record_goal_versions

__all__ = [
    "goal_key",
    "goal_version_at",
    "goals_as_of",
    "record_config_goals",
    "versions_by_goal",
]


def goal_key(goal: Goal) -> str:
    """Return the stable text key of a goal: KPI, owner and period."""
    return "|".join(goal.key)


def _pacing_json(pacing: PacingSpec) -> object:
    if isinstance(pacing, CustomWeightsSpec):
        return {
            "weekday": {str(k): v for k, v in pacing.weekday.items()},
            "month": {str(k): v for k, v in pacing.month.items()},
        }
    return pacing


def _checkins_json(levels: tuple[CheckinKind, ...]) -> object:
    # One level is stored as its name and none as null, as before levels could nest, so a goal
    # whose check-ins did not change keeps its stored version.
    if not levels:
        return None
    return levels[0] if len(levels) == 1 else list(levels)


def _checkins_from_json(data: object) -> tuple[CheckinKind, ...]:
    if data is None:
        return ()
    if isinstance(data, str):
        return (cast(CheckinKind, data),)
    return tuple(cast(list[CheckinKind], data))


def goal_definition(goal: Goal) -> str:
    """Return the goal's definition as canonical JSON, so equal goals compare equal as text."""
    period: object = (
        goal.period.kind
        if isinstance(goal.period, RecurringPeriodSpec)
        else {"start": goal.period.first_day.isoformat(), "end": goal.period.last_day.isoformat()}
    )
    return json.dumps(
        {
            "kpi": goal.kpi,
            "owner": goal.owner,
            "period": period,
            "target": goal.target,
            "committed": goal.committed,
            "stretch": goal.stretch,
            "pacing": _pacing_json(goal.pacing),
            "checkins": _checkins_json(goal.checkins),
            "tolerance": goal.tolerance,
            "baseline": goal.baseline,
            "direction": goal.direction,
        },
        sort_keys=True,
    )


@functools.lru_cache(maxsize=4096)
def _goal_from_definition(text: str) -> Goal:
    # Judging reads a goal's version once per check-in (45,000 at 10,000 goals): each stored
    # definition is parsed once, and the frozen Goal shared.
    data = json.loads(text)
    period_data = data["period"]
    period = (
        RecurringPeriodSpec(cast(PeriodKind, period_data))
        if isinstance(period_data, str)
        else FixedPeriodSpec(date.fromisoformat(period_data["start"]), date.fromisoformat(period_data["end"]))
    )
    pacing_data = data["pacing"]
    pacing: PacingSpec = (
        CustomWeightsSpec(
            weekday={int(k): float(v) for k, v in pacing_data["weekday"].items()},
            month={int(k): float(v) for k, v in pacing_data["month"].items()},
        )
        if isinstance(pacing_data, dict)
        else pacing_data
    )
    return Goal(
        kpi=data["kpi"],
        owner=data["owner"],
        period=period,
        target=float(data["target"]),
        committed=data["committed"],
        stretch=data["stretch"],
        pacing=pacing,
        checkins=_checkins_from_json(data["checkins"]),
        tolerance=float(data["tolerance"]),
        baseline=data["baseline"],
        direction=data["direction"],
    )


def record_config_goals(engine: Engine, config: Config, at: datetime) -> int:
    """Record the configuration's goals as the versions in force from `at`; return how many changed."""
    definitions = {goal_key(goal): (goal.target, goal_definition(goal)) for goal in config.goals}
    shard = config.shard
    owns = None if shard is None else (lambda key: goal_in_shard(key, shard))
    return record_goal_versions(engine, definitions, at, owns)


def goals_as_of(config: Config, versions: Sequence[GoalVersion], at: datetime) -> tuple[Goal, ...]:
    """Return the goals as they stood at `at`.

    A goal with stored history uses the version in force at `at` (or, before its first version,
    the first one: the earliest known definition); a goal never recorded uses the configuration.
    A goal removed from the configuration still counts for instants when it was in force, as
    long as its KPI and owner are still configured.
    """
    by_key = versions_by_goal(versions)
    goals: list[Goal] = []
    seen: set[str] = set()
    for goal in config.goals:
        key = goal_key(goal)
        seen.add(key)
        goals.append(goal_version_at(goal, by_key.get(key, ()), at))
    for key, history in by_key.items():
        if key in seen or (config.shard is not None and not goal_in_shard(key, config.shard)):
            continue
        chosen = _version_at(history, at, before_first=False)
        if chosen is None:
            continue
        goal = _goal_from_definition(chosen.definition)
        if goal.kpi in config.kpis and (goal.owner in config.people or goal.owner in config.teams):
            goals.append(goal)
    return tuple(goals)


def versions_by_goal(versions: Sequence[GoalVersion]) -> dict[str, list[GoalVersion]]:
    """Group stored versions by goal key, each goal's oldest first: read once, looked up per goal."""
    by_key: dict[str, list[GoalVersion]] = {}
    for version in sorted(versions, key=lambda v: v.effective_from):
        by_key.setdefault(version.goal_key, []).append(version)
    return by_key


def goal_version_at(goal: Goal, history: Sequence[GoalVersion], at: datetime) -> Goal:
    """Return the configured `goal` as it stood at `at`, given its own stored `history`.

    The version in force at `at`, or before the first version the first one (the earliest known
    definition); the configured goal itself when it has no history.
    """
    chosen = _version_at(history, at) if history else None
    return _goal_from_definition(chosen.definition) if chosen else goal


def _version_at(history: Sequence[GoalVersion], at: datetime, *, before_first: bool = True) -> GoalVersion | None:
    ordered = sorted(history, key=lambda v: v.effective_from)
    for version in ordered:
        if version.effective_from <= at and (version.effective_to is None or at < version.effective_to):
            return version
    if before_first and ordered and at < ordered[0].effective_from:
        return ordered[0]
    return None


def with_goals(config: Config, goals: tuple[Goal, ...]) -> Config:
    """Return a copy of the configuration holding `goals`."""
    return replace(config, goals=goals)


def load_goals_as_of(engine: Engine, config: Config, at: datetime) -> Config:
    """Return the configuration with its goals as they stood at `at`, read from storage."""
    return with_goals(config, goals_as_of(config, load_goal_versions(engine), at))
