"""Pacing curves: how much of a period's work each day should carry (CONTRACT §4, w(d))."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from syncd.engine.periods import Period

__all__ = ["BusinessDays", "CustomWeights", "Linear", "PacingCurve", "day_weights"]


class PacingCurve(Protocol):
    """Gives each day its weight w(d) >= 0."""

    def weight(self, day: date) -> float:
        """Return w(day)."""
        ...


@dataclass(frozen=True)
class Linear:
    """Every day weighs 1."""

    def weight(self, day: date) -> float:
        """Return 1."""
        return 1.0


@dataclass(frozen=True)
class BusinessDays:
    """Monday to Friday weigh 1 unless they are holidays; weekends and holidays weigh 0."""

    holidays: frozenset[date] = frozenset()

    def weight(self, day: date) -> float:
        """Return 1 on a working weekday, else 0."""
        return 1.0 if day.weekday() < 5 and day not in self.holidays else 0.0


@dataclass(frozen=True)
class CustomWeights:
    """A day weighs its weekday's weight times its month's weight; a missing key weighs 1.

    `weekday` keys are 0 (Monday) to 6 (Sunday), `month` keys 1 (January) to 12.
    """

    weekday: Mapping[int, float] = field(default_factory=dict)
    month: Mapping[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, weights, keys in (("weekday", self.weekday, range(7)), ("month", self.month, range(1, 13))):
            for key, weight in weights.items():
                if key not in keys:
                    raise ValueError(f"{name} weight key {key} is outside {keys.start}..{keys.stop - 1}")
                if not math.isfinite(weight) or weight < 0:
                    raise ValueError(f"{name} weight for {key} must be a finite number >= 0, not {weight}")

    def weight(self, day: date) -> float:
        """Return the weekday weight times the month weight of `day`."""
        return self.weekday.get(day.weekday(), 1.0) * self.month.get(day.month, 1.0)


def day_weights(period: Period, curve: PacingCurve) -> dict[date, float]:
    """Return w(d) for every day of `period`, in order."""
    return {day: curve.weight(day) for day in period.days()}
