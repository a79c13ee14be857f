"""An owner's daily counts as one array over consecutive days, summed exactly when the counts allow.

Counts of events are whole numbers: while every count is a whole number >= 0 and their total stays
below 2**52, every partial sum is an integer a double holds exactly, so a sum over any run of days
is the same integer in any order of adding (the difference of two prefix sums, a running total from
any day, the builtin `sum`) and equals `math.fsum` of the same counts (the exactly rounded sum) to
the last bit. A series with any other count (a fraction, a negative, -0.0, inf, NaN) is not
`exact`, and its callers sum the reference's way instead.

Plain Python, no numpy: a series spans a few hundred days, where numpy's per-call cost buys little,
and importing numpy cost the daemon 13 MB of resident memory (its peak at 10,000 goals 13-16 MB).
The loops that run per owner and per day are C-level (`itertools.accumulate`, `map`, `sum`, bytes
methods), not Python-level.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from itertools import accumulate, chain, pairwise, repeat
from operator import itemgetter, sub
from typing import cast

from syncd.engine.day_values import DayValues

__all__ = ["DayEdges", "DaySeries"]

_EXACT_BELOW = float(2**52)  # a margin under 2**53, as the check sums in floats itself
# The most significant byte of each native double: its sign bit, then the top 7 bits of its exponent.
_TOP_BYTES = slice(7, None, 8) if sys.byteorder == "little" else slice(0, None, 8)
# The top bytes of +0.0 and of the doubles below 2**33 (biased exponent up to 1023 + 32 = 0x41F).
_BELOW_2_33 = bytes(range(0x42))
# Fewer days than this, each below 2**33, total below 2**52 without summing them.
_DAYS_SUMMED_EXACTLY = 2**19


def _exactness(counts: memoryview[float], raw: bytes) -> tuple[bool, bool]:
    """Return whether the counts are whole and not negative, and whether they are also `exact`.

    `raw` is their bytes. A top byte of 0x80 or more has the sign bit: a negative count or -0.0
    (bytes.isascii checks them all in C). A whole number is an integer float; NaN and inf are not.
    """
    tops = raw[_TOP_BYTES]
    small = not tops.translate(None, _BELOW_2_33)  # every count from +0.0 up to below 2**33
    if not (small or tops.isascii()) or not all(map(float.is_integer, counts)):
        return False, False
    return True, (small and len(counts) < _DAYS_SUMMED_EXACTLY) or sum(counts, 0.0) < _EXACT_BELOW


def _first_positive(daily: Mapping[date, float]) -> date | None:
    return min((day for day, count in daily.items() if count > 0), default=None)


def _readonly(values: array[float]) -> memoryview[float]:
    return cast("memoryview[float]", memoryview(values).toreadonly())


_NO_COUNTS = _readonly(array("d"))


class DayEdges:
    """Back-to-back runs of days [ordinals[i], ordinals[i + 1]), in day order, for `DaySeries.blocks`.

    Made once and shared by every owner the runs are asked of: which places of a running total
    from the first edge end each run does not depend on the owner.
    """

    __slots__ = ("_ends", "first", "runs", "stop")

    def __init__(self, ordinals: Sequence[int]) -> None:
        if any(after < before for before, after in pairwise(ordinals)):
            raise ValueError("the edges of back-to-back runs of days must be in day order")
        self.runs = max(len(ordinals) - 1, 0)
        self.first = ordinals[0] if ordinals else 0
        self.stop = ordinals[-1] if ordinals else 0
        # Where each edge falls in a running total from `first` (0.0 first): itemgetter gathers in C.
        self._ends = itemgetter(*(ordinal - self.first for ordinal in ordinals)) if self.runs else None

    def ends(self, running: Sequence[float]) -> tuple[float, ...]:
        """Return the running totals (from `first`, starting at 0.0) at every edge; needs a run."""
        assert self._ends is not None  # two edges or more: itemgetter gives a tuple
        return cast("tuple[float, ...]", self._ends(running))


class DaySeries:
    """Counts by day as an array from the first to the last stored day (missing days are 0).

    Made from the daemon's `DayValues`, it reads their array in place and sums it when asked (a sum
    over a run of days is then a sum of the run): kept per owner, a prefix array of its own was a
    second copy of every owner's counts (10 MB at 10,000 owners and 120 days).
    """

    __slots__ = ("_counts", "base", "exact", "first_positive", "last")

    def __init__(self, daily: Mapping[date, float]) -> None:
        if not daily:
            self.base, self.last, self.exact, self.first_positive = 0, 0, True, None
            self._counts = _NO_COUNTS
            return
        if isinstance(daily, DayValues):
            base, counts = daily.span()  # every day from the first to the last; 0.0 where none is stored
        else:
            # A plain mapping (an owner of several subjects sums theirs into a dict): the same array,
            # each count as given (a -0.0 stays -0.0, so the check below refuses it).
            ordinals = list(map(date.toordinal, daily))
            base = min(ordinals)
            values = array("d", bytes(8 * (max(ordinals) - base + 1)))
            for ordinal, count in zip(ordinals, daily.values(), strict=True):
                values[ordinal - base] = count
            counts = _readonly(values)
        self.base, self._counts, self.last = base, counts, len(counts)
        raw = bytes(counts)
        whole, self.exact = _exactness(counts, raw)  # a day without a count is +0.0 here: it passes
        # The owner's first day with a count above 0 (forecast_bridge: days before it are unknown).
        if whole:
            # Counts >= 0 without a sign bit: the first above 0 is the first whose bytes are not all 0.
            first = (len(raw) - len(raw.lstrip(b"\0"))) // 8
            self.first_positive = date.fromordinal(base + first) if first < self.last else None
        else:
            self.first_positive = _first_positive(daily)

    @property
    def prefix(self) -> array[float]:
        """prefix[i]: the sum of the counts of the first i days (prefix[0] is 0)."""
        return array("d", accumulate(self._counts, initial=0.0))

    def _days(self, start: int, stop: int) -> Iterable[float]:
        # The counts of the days with ordinals start..stop - 1: 0.0 for a day outside the stored ones.
        counts, size = self._counts, self.last
        first, end = start - self.base, stop - self.base
        if first >= 0 and end <= size:
            return counts[first:end]
        before, after = max(0, min(end, 0) - first), max(0, end - max(first, size))
        inner = counts[min(max(first, 0), size) : min(max(end, 0), size)]
        return chain(repeat(0.0, before), inner, repeat(0.0, after))

    def total(self, first: date, last: date) -> float:
        """Return the sum of the counts from `first` through `last` (0.0 when last < first); needs `exact`."""
        if last < first:
            return 0.0
        # The run's own sum: its counts are whole numbers with an exact total, so any order of
        # adding them gives the prefix sums' difference (and fsum) to the last bit.
        return sum(self._days(first.toordinal(), last.toordinal() + 1), 0.0)

    def runs(self, starts: Sequence[int], stops: Sequence[int]) -> list[float]:
        """Return the sums over the day runs [starts[i], stops[i]) given as ordinals; needs `exact`."""
        prefix, base, size = self.prefix, self.base, self.last
        # A day before the first stored one has prefix 0, one after the last the total.
        return [
            prefix[min(max(stop - base, 0), size)] - prefix[min(max(start - base, 0), size)]
            for start, stop in zip(starts, stops, strict=True)
        ]

    def blocks(self, edges: DayEdges) -> tuple[list[float], float]:
        """Return the sums over the back-to-back runs of `edges` and their total; needs `exact`.

        One running total from the first edge to the last gives every run as the difference of the
        totals at its ends. Every sum is exact, so each is the run's `math.fsum`, and the total (the
        running total at the last edge) is their `math.fsum`.
        """
        if not edges.runs:
            return [], 0.0
        running = list(accumulate(self._days(edges.first, edges.stop), initial=0.0))
        ends = edges.ends(running)
        return list(map(sub, ends[1:], ends)), running[-1]  # map stops with the shorter: ends[i + 1] - ends[i]

    def running(self, first: date, last: date) -> array[float]:
        """Return the running total at the end of each day from `first` through `last`; needs `exact`."""
        if last < first:
            return array("d")
        return array("d", accumulate(self._days(first.toordinal(), last.toordinal() + 1)))
