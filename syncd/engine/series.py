"""An owner's daily counts as one array over consecutive days, with prefix sums when they are exact.

Counts of events are whole numbers: while every count is a whole number >= 0 and their total stays
below 2**52, every partial sum is an integer a double holds exactly, so a sum over any run of days
is the difference of two prefix sums and equals `math.fsum` of the same counts (the exactly rounded
sum) to the last bit. A series with any other count (a fraction, a negative, -0.0, inf, NaN) is not
`exact`, and its callers sum the reference's way instead.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from datetime import date
from typing import cast

import numpy as np
import numpy.typing as npt

from syncd.engine.day_values import DayValues

__all__ = ["DaySeries"]

_EXACT_BELOW = float(2**52)  # a margin under 2**53, as the check sums in floats itself

_smallest = np.minimum.reduce
_all_true = np.logical_and.reduce
_accumulate = np.add.accumulate
_add = np.add.reduce

Ordinals = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def _whole_and_not_negative(values: Floats) -> bool:
    # No sign bit (as an int64, a double with its sign bit set is negative): no negative count,
    # no -0.0; a whole number is its own floor and NaN is not; inf fails the caller's total check.
    return int(_smallest(values.view(np.int64))) >= 0 and bool(_all_true(values == np.floor(values)))


def _first_positive(daily: Mapping[date, float]) -> date | None:
    return min((day for day, count in daily.items() if count > 0), default=None)


class DaySeries:
    """Counts by day as an array from the first to the last stored day (missing days are 0).

    Made from the daemon's `DayValues`, it reads their array in place and works its prefix sums out
    when asked (a sum over a run of days is then a sum of the run): kept per owner, a prefix array
    of its own was a second copy of every owner's counts (10 MB at 10,000 owners and 120 days).
    """

    __slots__ = ("_counts", "_prefix", "base", "exact", "first_positive", "last")

    def __init__(self, daily: Mapping[date, float]) -> None:
        self._counts: Floats | None = None
        self._prefix: Floats | None = None
        size = len(daily)
        if not size:
            self.base, self.last, self.exact, self.first_positive = 0, 0, True, None
            self._prefix = np.zeros(1, dtype=np.float64)
            return
        if isinstance(daily, DayValues):
            self._from_day_values(daily)
            return
        # 10,000 owners build one each per full evaluation: the fewest numpy calls, ufuncs directly
        # (ndarray.min goes through a Python wrapper), as most of a year's cost is the calls themselves.
        ordinals = np.fromiter(map(date.toordinal, daily), dtype=np.int64, count=size)
        values = np.fromiter(daily.values(), dtype=np.float64, count=size)
        base = self.base = int(_smallest(ordinals))
        # prefix[i] is the sum of the counts of the first i days; prefix[0] is 0. Each day's count
        # lands one place after its day (0.0 + count: the count itself, but -0.0, which is not exact).
        # (With weights, bincount gives float64; its stub says intp whatever the weights.)
        prefix = self._prefix = cast(Floats, np.bincount(ordinals - (base - 1), weights=values))
        exact = _whole_and_not_negative(values)
        _accumulate(prefix, out=prefix)  # cumsum's own loop, without the method's overhead
        last = self.last = prefix.size - 1
        self.exact = exact and prefix.item(last) < _EXACT_BELOW
        # The owner's first day with a count above 0 (forecast_bridge: days before it are unknown).
        if exact:
            # Counts >= 0: the prefix sums never fall, and the first above 0 ends that day.
            first = int(prefix.searchsorted(0.0, side="right")) - 1
            self.first_positive = date.fromordinal(base + first) if first < last else None
        else:
            self.first_positive = _first_positive(daily)

    def _from_day_values(self, daily: DayValues) -> None:
        base, counts = daily.span()  # every day from the first to the last; 0.0 where none is stored
        self.base, self._counts, self.last = base, counts, counts.size
        exact = _whole_and_not_negative(counts)  # a day without a count is +0.0 here: it passes
        self.exact = exact and float(_add(counts)) < _EXACT_BELOW
        if exact:
            positive = np.flatnonzero(counts)  # counts >= 0: the first nonzero is the first above 0
            self.first_positive = date.fromordinal(base + int(positive[0])) if positive.size else None
        else:
            self.first_positive = _first_positive(daily)

    @property
    def prefix(self) -> Floats:
        """prefix[i]: the sum of the counts of the first i days (prefix[0] is 0)."""
        if self._prefix is not None:
            return self._prefix
        assert self._counts is not None  # one of the two is always set
        prefix = np.zeros(self._counts.size + 1, dtype=np.float64)
        _accumulate(self._counts, out=prefix[1:])
        return prefix

    def _index(self, day: date) -> int:
        # Position of the prefix sum just before `day`, clipped to the stored days.
        return min(max(day.toordinal() - self.base, 0), self.last)

    def total(self, first: date, last: date) -> float:
        """Return the sum of the counts from `first` through `last` (0.0 when last < first); needs `exact`."""
        if last < first:
            return 0.0
        after = min(max(last.toordinal() + 1 - self.base, 0), self.last)
        if self._counts is not None:
            # The run's own sum: its counts are whole numbers with an exact total, so any order of
            # adding them gives the prefix sums' difference to the last bit.
            return float(_add(self._counts[self._index(first) : after]))
        return self.prefix.item(after) - self.prefix.item(self._index(first))

    def runs(self, starts: Ordinals, stops: Ordinals) -> Floats:
        """Return the sums over the day runs [starts[i], stops[i]) given as ordinals; needs `exact`."""
        # take(mode="clip"): a day before the first stored one has prefix 0, one after the last the total.
        return self.prefix.take(stops - self.base, mode="clip") - self.prefix.take(starts - self.base, mode="clip")

    def blocks(self, edges: Ordinals) -> tuple[Floats, float]:
        """Return the sums over the back-to-back runs [edges[i], edges[i + 1]) and their total; needs `exact`.

        The total is the last prefix sum less the first: every sum is exact, so it is their `math.fsum`.
        """
        if edges.size < 2:
            return np.zeros(0, dtype=np.float64), 0.0
        ends = self.prefix.take(edges - self.base, mode="clip")
        return ends[1:] - ends[:-1], ends.item(-1) - ends.item(0)

    def running(self, first: date, last: date) -> array[float]:
        """Return the running total at the end of each day from `first` through `last`; needs `exact`."""
        if last < first:
            return array("d")
        base = self.base
        start, stop = first.toordinal() + 1 - base, last.toordinal() + 2 - base
        if start >= 0 and stop <= self.last + 1:
            ends = self.prefix[start:stop]  # all within the stored days: no clipping to do
        else:
            ends = self.prefix.take(np.arange(start, stop, dtype=np.int64), mode="clip")
        return array("d", (ends - self.prefix.item(self._index(first))).tobytes())
