"""Check-in results as readers see them: per goal and level, under one rule for which periods show.

The rule (`shown_results`): a goal's stored results of its current period and, when the reader asks
for it, of the period before it. That one is still judged (late data can change its results,
docs/pace.md), and in a new period's first days its check-ins are the latest closed ones.

- `syncd checkins` (table and JSON): the current period only, so a monthly goal's November table is
  November's weeks.
- `GET /api/v1/checkins`, the status page's ladder and `syncd_checkpoint_last_hit`: the previous
  period too.

Older periods' results stay stored (`checkin_results`, the record) and are shown by none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import attrgetter

from syncd.engine.checkin_results import CheckinResult
from syncd.engine.snapshot import GoalStatus, Snapshot

__all__ = ["checkins_json", "goal_ladder", "last_results", "shown_results"]

_LAST_DAY = attrgetter("last_day")


def shown_results(snapshot: Snapshot, goal: GoalStatus, *, previous_period: bool) -> tuple[CheckinResult, ...]:
    """Return the goal's stored results of its current period, and with `previous_period` of the one before.

    The previous period is the latest one before the current period's start with stored results:
    judging covers it and the current one only, so it is the period just before.
    """
    stored = snapshot.checkins_by_goal.get(goal.goal_key, ())
    previous: str | None = None
    if previous_period:
        first_day = goal.start.date()  # local midnight of the period's first day, in the goal's zone
        earlier = [r for r in stored if r.period != goal.period and r.first_day < first_day]
        previous = max(earlier, key=_LAST_DAY).period if earlier else None
    return tuple(r for r in stored if r.period == goal.period or r.period == previous)


def goal_ladder(snapshot: Snapshot, goal: GoalStatus, *, previous_period: bool) -> dict[str, list[CheckinResult]]:
    """Return the goal's shown results per level (coarsest level first), oldest first."""
    ladder: dict[str, list[CheckinResult]] = {checkpoint.level: [] for checkpoint in goal.checkpoints}
    for result in shown_results(snapshot, goal, previous_period=previous_period):
        ladder.setdefault(result.level, []).append(result)
    for results in ladder.values():
        results.sort(key=lambda r: r.first_day)
    return ladder


def last_results(snapshot: Snapshot) -> Iterator[tuple[GoalStatus, CheckinResult]]:
    """Yield each exposed goal's last closed check-in per level, the previous period's included.

    On a period's first days no check-in of it has closed yet: the last one is the previous period's.
    """
    for goal in snapshot.goals:
        for results in goal_ladder(snapshot, goal, previous_period=True).values():
            if results:
                yield goal, results[-1]


def checkins_json(snapshot: Snapshot, owner: str | None = None, *, previous_period: bool) -> list[dict[str, object]]:
    """Return the shown results of the exposed goals as JSON objects, with the goal's labels."""
    out: list[dict[str, object]] = []
    for goal in snapshot.goals:
        if owner is not None and owner not in (goal.owner, goal.team):
            continue
        for results in goal_ladder(snapshot, goal, previous_period=previous_period).values():
            out.extend({**r.as_json(), "source": goal.source, "team": goal.team} for r in results)
    return out
