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

import numpy as np
import numpy.typing as npt

__all__ = ["DaySeries"]

_EXACT_BELOW = float(2**52)  # a margin under 2**53, as the check sums in floats itself

Ordinals = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


class DaySeries:
    """Counts by day as an array from the first to the last stored day (missing days are 0)."""

    __slots__ = ("base", "exact", "first_positive", "last", "prefix")

    def __init__(self, daily: Mapping[date, float]) -> None:
        size = len(daily)
        ordinals = np.fromiter(map(date.toordinal, daily), dtype=np.int64, count=size)
        values = np.fromiter(daily.values(), dtype=np.float64, count=size)
        self.base = int(ordinals.min()) if size else 0
        # prefix[i] is the sum of the counts of the first i days; prefix[0] is 0.
        self.prefix: Floats = np.zeros(int(ordinals.max()) - self.base + 2 if size else 1, dtype=np.float64)
        counts = self.prefix[1:]
        counts[ordinals - self.base] = values
        first = int((counts > 0).argmax()) if size else 0
        # The owner's first day with a count above 0 (forecast_bridge: days before it are unknown).
        self.first_positive = date.fromordinal(self.base + first) if size and counts[first] > 0 else None
        # No sign bit (as an int64, a double with its sign bit set is negative): no negative count,
        # no -0.0; a whole number is its own floor and NaN is not; inf fails the total below.
        self.exact = size == 0 or (int(values.view(np.int64).min()) >= 0 and bool((values == np.floor(values)).all()))
        np.cumsum(counts, out=counts)
        self.last = self.prefix.size - 1
        self.exact = self.exact and self.prefix.item(self.last) < _EXACT_BELOW

    def _index(self, day: date) -> int:
        # Position of the prefix sum just before `day`, clipped to the stored days.
        return min(max(day.toordinal() - self.base, 0), self.last)

    def total(self, first: date, last: date) -> float:
        """Return the sum of the counts from `first` through `last` (0.0 when last < first); needs `exact`."""
        if last < first:
            return 0.0
        after = min(max(last.toordinal() + 1 - self.base, 0), self.last)
        return self.prefix.item(after) - self.prefix.item(self._index(first))

    def runs(self, starts: Ordinals, stops: Ordinals) -> Floats:
        """Return the sums over the day runs [starts[i], stops[i]) given as ordinals; needs `exact`."""
        # take(mode="clip"): a day before the first stored one has prefix 0, one after the last the total.
        return self.prefix.take(stops - self.base, mode="clip") - self.prefix.take(starts - self.base, mode="clip")

    def running(self, first: date, last: date) -> array[float]:
        """Return the running total at the end of each day from `first` through `last`; needs `exact`."""
        if last < first:
            return array("d")
        base = self.base
        ends = np.arange(first.toordinal() + 1 - base, last.toordinal() + 2 - base, dtype=np.int64)
        return array("d", (self.prefix.take(ends, mode="clip") - self.prefix.item(self._index(first))).tobytes())
