"""Check-in results as readers see them: grouped by goal and level, from one snapshot."""

from __future__ import annotations

from collections.abc import Iterator

from syncd.engine.checkin_results import CheckinResult
from syncd.engine.snapshot import GoalStatus, Snapshot

__all__ = ["checkins_json", "goal_ladder", "last_results", "results_by_goal"]


# The last snapshot's results grouped by goal: a scrape, the status page and the API ask for every
# goal's ladder, and scanning all results per goal made 10,000 goals cost seconds (45,000 results each).
_grouped: tuple[tuple[CheckinResult, ...], dict[str, tuple[CheckinResult, ...]]] | None = None


def results_by_goal(checkins: tuple[CheckinResult, ...]) -> dict[str, tuple[CheckinResult, ...]]:
    """Return `checkins` grouped by goal key, in their order; grouped once per snapshot's results."""
    global _grouped  # a one-entry cache: swapping the tuple in is atomic, readers see old or new
    cached = _grouped
    if cached is not None and cached[0] is checkins:
        return cached[1]
    lists: dict[str, list[CheckinResult]] = {}
    for result in checkins:
        lists.setdefault(result.goal_key, []).append(result)
    grouped = {key: tuple(results) for key, results in lists.items()}
    _grouped = (checkins, grouped)
    return grouped


def goal_ladder(snapshot: Snapshot, goal: GoalStatus) -> dict[str, list[CheckinResult]]:
    """Return the goal's stored results per level (coarsest level first), oldest first."""
    ladder: dict[str, list[CheckinResult]] = {checkpoint.level: [] for checkpoint in goal.checkpoints}
    for result in results_by_goal(snapshot.checkins).get(goal.goal_key, ()):
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
