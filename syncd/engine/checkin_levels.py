"""Check-in levels: which sub-periods a goal is split into, coarsest first (CONTRACT §7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from syncd.engine.periods import CheckinKind
from syncd.model import FixedPeriodSpec, PeriodSpec

__all__ = ["LEVELS", "checkin_levels", "finest_level"]

# Coarsest first: the order levels are kept in, whatever order the configuration gives.
LEVELS: tuple[CheckinKind, ...] = ("month", "fortnight", "week")
# A level must be shorter than the goal's period: by rank for a recurring period, and for a
# fixed one by its shortest length in days (a month can be 28 days).
_PERIOD_RANK = {"week": 0, "fortnight": 1, "month": 2, "quarter": 3, "year": 4}
_SHORTEST_DAYS = {"week": 7, "fortnight": 14, "month": 28}


def checkin_levels(raw: str | Sequence[str] | None, period: PeriodSpec) -> tuple[CheckinKind, ...] | str:
    """Return the levels of a goal's `checkins`, coarsest first, or one line saying what is wrong."""
    if raw is None:
        return ()
    names = [raw] if isinstance(raw, str) else list(raw)
    if len(set(names)) != len(names):
        return "a level appears twice"
    known = get_args(CheckinKind)
    for name in names:
        if name not in known:
            return f"unknown level {name!r}: use week, fortnight or month"
        if isinstance(period, FixedPeriodSpec):
            days = (period.last_day - period.first_day).days + 1
            if _SHORTEST_DAYS[name] >= days:
                return f"{name} is not shorter than the goal's period ({days} days)"
        elif _PERIOD_RANK[name] >= _PERIOD_RANK[period.kind]:
            return f"{name} is not shorter than the goal's period ({period.kind})"
    return tuple(level for level in LEVELS if level in names)


def finest_level(levels: Sequence[CheckinKind]) -> CheckinKind | None:
    """Return the shortest of the levels, or None when there are none."""
    return levels[-1] if levels else None
