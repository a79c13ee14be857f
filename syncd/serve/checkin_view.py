"""Check-in results as readers see them: grouped by goal and level, from one snapshot."""

from __future__ import annotations

from collections.abc import Iterator

from syncd.engine.checkin_results import CheckinResult
from syncd.engine.snapshot import GoalStatus, Snapshot

__all__ = ["checkins_json", "goal_ladder", "last_results"]


def goal_ladder(snapshot: Snapshot, goal: GoalStatus) -> dict[str, list[CheckinResult]]:
    """Return the goal's stored results per level (coarsest level first), oldest first."""
    ladder: dict[str, list[CheckinResult]] = {checkpoint.level: [] for checkpoint in goal.checkpoints}
    for result in snapshot.checkins:
        if result.goal_key == goal.goal_key:
            ladder.setdefault(result.level, []).append(result)
    for results in ladder.values():
        results.sort(key=lambda r: r.first_day)
    return ladder


def last_results(snapshot: Snapshot) -> Iterator[tuple[GoalStatus, CheckinResult]]:
    """Yield each exposed goal's last closed check-in per level."""
    for goal in snapshot.goals:
        for results in goal_ladder(snapshot, goal).values():
            if results:
                yield goal, results[-1]


def checkins_json(snapshot: Snapshot, owner: str | None = None) -> list[dict[str, object]]:
    """Return the stored results of the exposed goals as JSON objects, with the goal's labels."""
    out: list[dict[str, object]] = []
    for goal in snapshot.goals:
        if owner is not None and owner not in (goal.owner, goal.team):
            continue
        for results in goal_ladder(snapshot, goal).values():
            out.extend({**r.as_json(), "source": goal.source, "team": goal.team} for r in results)
    return out
