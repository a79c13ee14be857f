"""One subject's counts by day, held compactly: an array of doubles over consecutive days.

The daemon holds every subject's daily counts for the days its goals need (a quarter and more). As
a dict of date -> float that costs ~50 bytes a day: 60 MB at 10,000 subjects and 120 days. Here a
day costs 8 bytes (9 where some days in the span have no count), and a full evaluation reads the
days as one array in place, without making a date per day (`span`).

A `DayValues` is a read-only Mapping[date, float] that iterates its days in calendar order;
any Mapping of days works wherever one is expected (tests pass plain dicts).
"""

from __future__ import annotations

from array import array
from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from datetime import date
from typing import Any, cast, overload

__all__ = ["DayValues", "DayValuesBuilder"]

# Days as objects, made once per ordinal: iterating 10,000 subjects' days would otherwise make a
# new date for every day of every subject. The days a daemon meets span a few years at most.
_DAYS: dict[int, date] = {}


def _day(ordinal: int) -> date:
    found = _DAYS.get(ordinal)
    if found is None:
        found = _DAYS[ordinal] = date.fromordinal(ordinal)
    return found


class DayValues(Mapping[date, float]):
    """Counts by day from the first to the last day with a count; days between may have none."""

    # __weakref__: a judging memo keeps the counts it judged weakly (shared_work.held_weakly).
    __slots__ = ("__weakref__", "_first", "_present", "_size", "_values")

    _first: int  # the first day's ordinal
    _values: array[float]  # one per day from the first to the last; 0.0 where a day has no count
    _present: bytes | None  # 1 where a day has a count; None when every day has one
    _size: int

    @classmethod
    def of(cls, days: Mapping[date, float] | Iterable[tuple[date, float]]) -> DayValues:
        """Return the counts of `days` (a mapping, or pairs where a later day wins)."""
        if isinstance(days, DayValues):
            return days
        builder = DayValuesBuilder()
        for day, value in days.items() if isinstance(days, Mapping) else days:
            builder.add(day.toordinal(), value)
        return builder.build()

    def _index(self, day: object) -> int:
        # A datetime is a date too, but never equal to one: as in a dict, it is not a key here.
        if type(day) is not date:
            return -1
        index = day.toordinal() - self._first
        if 0 <= index < len(self._values) and (self._present is None or self._present[index]):
            return index
        return -1

    def __getitem__(self, day: date) -> float:
        index = self._index(day)
        if index < 0:
            raise KeyError(day)
        return self._values[index]

    @overload
    def get(self, day: date, /) -> float | None: ...
    @overload
    def get(self, day: date, default: float, /) -> float: ...
    @overload
    def get(self, day: date, default: Any, /) -> Any: ...
    def get(self, day: date, default: Any = None, /) -> Any:
        """Return the count of `day`, or `default` when it has none."""
        index = self._index(day)
        return default if index < 0 else self._values[index]

    def __contains__(self, day: object) -> bool:
        return self._index(day) >= 0

    def __len__(self) -> int:
        return self._size

    def _positions(self) -> Iterable[int]:
        if self._present is None:
            return range(len(self._values))
        return (index for index, present in enumerate(self._present) if present)

    def __iter__(self) -> Iterator[date]:
        first = self._first
        return (_day(first + index) for index in self._positions())

    def items(self) -> ItemsView[date, float]:
        """The (day, count) pairs in calendar order."""
        return _Items(self)

    def values(self) -> ValuesView[float]:
        """The counts in calendar order."""
        return _Values(self)

    def _iter_items(self) -> Iterator[tuple[date, float]]:
        first, values = self._first, self._values
        return ((_day(first + index), values[index]) for index in self._positions())

    def _iter_values(self) -> Iterator[float]:
        values = self._values
        if self._present is None:
            return iter(values)
        return (values[index] for index in self._positions())

    def _slice(self, first: date, last: date) -> tuple[int, int]:
        # The positions of first..last within the held days, clipped (start >= stop: none held).
        start = max(first.toordinal() - self._first, 0)
        stop = min(last.toordinal() - self._first + 1, len(self._values))
        return start, stop

    def any_between(self, first: date, last: date) -> bool:
        """Return whether any day from `first` through `last` has a count."""
        start, stop = self._slice(first, last)
        if start >= stop:
            return False
        return self._present is None or any(self._present[start:stop])

    def same_between(self, first: date, last: date, fresh: Mapping[date, float]) -> bool:
        """Return whether the days `first`..`last` hold exactly `fresh` (every day of it in that range)."""
        start, stop = self._slice(first, last)
        held = 0 if start >= stop else (stop - start if self._present is None else sum(self._present[start:stop]))
        return held == len(fresh) and all(self.get(day) == value for day, value in fresh.items())

    def replaced(self, first: date, last: date, fresh: Mapping[date, float]) -> DayValues:
        """Return these counts with the days `first`..`last` replaced by `fresh` (a new object).

        A copy of the arrays with the few pushed days set: a stream of pushes replaces a day or two
        of thousands of subjects per refresh.
        """
        if not self._values:  # nothing held (a new subject): no span to grow from day 1
            return DayValues.of(fresh)
        base = self._first
        values = array("d", self._values)
        present = bytearray(self._present) if self._present is not None else bytearray(b"\x01") * len(values)
        start, stop = self._slice(first, last)
        if start < stop:
            values[start:stop] = array("d", bytes(8 * (stop - start)))
            present[start:stop] = bytes(stop - start)
        for day, value in fresh.items():
            index = day.toordinal() - base
            if index < 0:
                values[:0] = array("d", bytes(8 * -index))
                present[:0] = bytes(-index)
                base, index = base + index, 0
            elif index >= len(values):
                grow = index + 1 - len(values)
                values.extend(array("d", bytes(8 * grow)))
                present.extend(bytes(grow))
            values[index] = value
            present[index] = 1
        return _packed(base, values, present)

    def span(self) -> tuple[int, memoryview[float]]:
        """Return the first day's ordinal and the counts of every day from it to the last (0.0 where none).

        The view reads the held storage in place: read-only, like the DayValues.
        """
        return self._first, cast("memoryview[float]", memoryview(self._values).toreadonly())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DayValues):
            # Element by element: 0.0 equals -0.0 and NaN nothing, as a dict's values compare.
            return self._first == other._first and self._present == other._present and self._values == other._values
        if isinstance(other, Mapping):
            return len(other) == self._size and all(other.get(day, _NONE) == value for day, value in self._iter_items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking like a dict: not hashable either

    def __repr__(self) -> str:
        return f"DayValues({dict(self._iter_items())!r})"


_NONE = object()


class _Items(ItemsView[date, float]):
    # ItemsView's own __iter__ looks every day up again through __getitem__.
    __slots__ = ("_days",)

    def __init__(self, days: DayValues) -> None:
        super().__init__(days)
        self._days = days

    def __iter__(self) -> Iterator[tuple[date, float]]:
        return self._days._iter_items()


class _Values(ValuesView[float]):
    __slots__ = ("_days",)

    def __init__(self, days: DayValues) -> None:
        super().__init__(days)
        self._days = days

    def __iter__(self) -> Iterator[float]:
        return self._days._iter_values()


class DayValuesBuilder:
    """Collect (day ordinal, count) pairs in any order (a later one for a day wins); `build` once."""

    __slots__ = ("_ordinals", "_values")

    def __init__(self) -> None:
        self._ordinals: array[int] = array("q")
        self._values: array[float] = array("d")

    def add(self, ordinal: int, value: float) -> None:
        """Add the count of the day with this ordinal."""
        self._ordinals.append(ordinal)
        self._values.append(value)

    def build(self) -> DayValues:
        """Return the counts collected."""
        ordinals = self._ordinals
        if not ordinals:
            return _packed(0, array("d"), bytearray())
        # One pass in Python: it costs about what the `add` calls did (~0.1 us a pair), a small part
        # of reading each pair from the store.
        base = min(ordinals)
        span = max(ordinals) - base + 1
        values = array("d", bytes(8 * span))
        present = bytearray(span)
        for ordinal, value in zip(ordinals, self._values, strict=True):  # a later pair for a day wins
            values[ordinal - base] = value
            present[ordinal - base] = 1
        return _packed(base, values, present)


def _packed(base: int, values: array[float], present: bytearray) -> DayValues:
    """Return a DayValues of these arrays, trimmed to its first and last day with a count."""
    built = object.__new__(DayValues)
    start, stop = present.find(1), present.rfind(1) + 1
    if start < 0:
        built._first, built._values, built._present, built._size = 0, array("d"), None, 0
        return built
    if start > 0 or stop < len(present):
        del values[stop:], present[stop:], values[:start], present[:start]
    size = present.count(1)
    built._first = base + start
    built._values = values
    built._present = None if size == len(present) else bytes(present)
    built._size = size
    return built
