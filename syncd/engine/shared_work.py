"""Goal-independent results shared by every goal, evaluation and judging pass (pure, memoised).

10,000 goals stand on a handful of (period, curve) pairs: their days, day weights, check-in
periods and targets are worked out once and shared by the evaluator (`fast_evaluate`) and the
check-in judge (`checkins`). Keys name the curve (`curve_key`), so an unhashable curve object rides
along as an argument; the memo is bounded by clearing, as periods roll on.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Hashable
from datetime import date
from typing import TypeVar, cast

from syncd.engine.periods import Period
from syncd.engine.weights import PacingCurve, day_weights
from syncd.model import Config, CustomWeightsSpec, Goal

__all__ = ["curve_key", "held_weakly", "period_days", "period_weights", "remember", "same_as_held", "same_objects"]

T = TypeVar("T")

_MEMO_LIMIT = 65536
_memo: dict[Hashable, object] = {}


def curve_key(config: Config, goal: Goal) -> Hashable | None:
    """Return a hashable name for the goal's curve, or None when it is learned per owner (`history`)."""
    pacing = goal.pacing
    if isinstance(pacing, CustomWeightsSpec):
        return ("custom", tuple(sorted(pacing.weekday.items())), tuple(sorted(pacing.month.items())))
    if pacing == "business_days":
        return ("business_days", config.holidays)
    if pacing == "history":
        return None
    return ("linear",)


def remember(key: Hashable, compute: Callable[[], T]) -> T:
    """Return the value kept for `key`, computing and keeping it the first time."""
    try:
        return cast(T, _memo[key])
    except KeyError:
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        value = _memo[key] = compute()
        return value


def period_days(period: Period) -> list[date]:
    """Return the period's days (shared: do not modify)."""
    return remember(("days", period), period.days)


def period_weights(period: Period, key: Hashable, curve: PacingCurve) -> dict[date, float]:
    """Return the curve's day weights over the period, for the curve named `key` (shared: do not modify)."""
    return remember(("weights", period, key), lambda: day_weights(period, curve))


def same_objects(kept: tuple[object, ...], given: tuple[object, ...]) -> bool:
    """Say whether two input tuples hold the very same objects: how caches here tell their inputs unchanged.

    Counts are never edited, only replaced (the daemon's counts cache), so identity is equality
    and costs nothing to check.
    """
    return len(kept) == len(given) and all(map(operator.is_, kept, given))


def held_weakly(inputs: tuple[object, ...]) -> tuple[object, ...]:
    """Return `inputs` for a long-lived memo: weak references where the objects allow one.

    A memo kept between judgings (minutes apart) must not keep the counts it was judged from alive
    once the daemon has replaced them: that was a second copy of every pushed subject's days.
    """
    return tuple(_weakly(item) for item in inputs)


def _weakly(item: object) -> object:
    try:
        return weakref.ref(item)
    except TypeError:  # a plain dict or a str: held as it is
        return item


def same_as_held(kept: tuple[object, ...], given: tuple[object, ...]) -> bool:
    """Say whether `given` holds the very objects `held_weakly` kept (a reference that died never matches)."""
    return len(kept) == len(given) and all(
        (item() if type(item) is weakref.ref else item) is other for item, other in zip(kept, given, strict=True)
    )
