"""How a finished check-in ended: the value type the judge, the store and every reader share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = ["CheckinResult", "Outcome", "group_by_goal"]

# `incomplete`: some of its days were never synced, so it is neither hit nor missed yet.
Outcome = Literal["hit", "missed", "incomplete"]


@dataclass(frozen=True, slots=True)  # tens of thousands held by the daemon
class CheckinResult:
    """A closed check-in of a goal at one level, judged with the goal version in force during it."""

    goal_key: str  # kpi|owner|period spec, as syncd.store.goal_history.goal_key
    kpi: str
    owner: str
    level: str
    checkpoint: str  # the check-in's id
    period: str  # the id of the goal period it belongs to
    first_day: date
    last_day: date
    target: float
    value: float
    unknown_days: int  # days no source had synced: not counted as zero
    outcome: Outcome
    final: bool  # closed and its data complete: never rewritten again

    def as_json(self) -> dict[str, object]:
        """Return the result as `syncd checkins --format json` and /api/v1/checkins print it."""
        return {
            "kpi": self.kpi,
            "owner": self.owner,
            "level": self.level,
            "checkpoint": self.checkpoint,
            "period": self.period,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "target": self.target,
            "value": self.value,
            "unknown_days": self.unknown_days,
            "outcome": self.outcome,
            "final": self.final,
        }


def group_by_goal(results: Iterable[CheckinResult]) -> dict[str, tuple[CheckinResult, ...]]:
    """Return the results grouped by goal key, each goal's in their given order."""
    lists: dict[str, list[CheckinResult]] = {}
    for result in results:
        lists.setdefault(result.goal_key, []).append(result)
    return {key: tuple(found) for key, found in lists.items()}
