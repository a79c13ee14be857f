"""DayValues reads exactly as the dict of day -> count it replaces, in calendar order, at 8 bytes a day."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syncd.engine.day_values import DayValues
from syncd.engine.series import DaySeries

D0 = date(2026, 9, 28)

counts = st.one_of(
    st.integers(min_value=0, max_value=50).map(float),
    st.floats(min_value=-1e15, max_value=1e15, width=64),  # as pushes allow, and negatives
    st.sampled_from([0.0, -0.0, 0.5, 1e15]),
)
day_maps = st.dictionaries(st.integers(min_value=-40, max_value=40).map(lambda n: D0 + timedelta(days=n)), counts)


@given(day_maps, st.integers(min_value=-45, max_value=45))
def test_reads_as_the_dict_it_was_made_of(days: dict[date, float], probe: int) -> None:
    held = DayValues.of(days)
    ordered = dict(sorted(days.items()))
    assert held == days
    assert days == held
    assert len(held) == len(days)
    assert list(held) == list(ordered)
    assert list(held.items()) == list(ordered.items())
    assert list(held.values()) == list(ordered.values())
    day = D0 + timedelta(days=probe)
    assert (day in held) == (day in days)
    assert held.get(day) == days.get(day)
    assert held.get(day, -1.0) == days.get(day, -1.0)
    if day in days:
        assert math.copysign(1.0, held[day]) == math.copysign(1.0, days[day])  # -0.0 stays -0.0


@given(day_maps)
def test_a_series_made_from_it_equals_one_made_from_the_dict(days: dict[date, float]) -> None:
    from_dict, from_held = DaySeries(dict(sorted(days.items()))), DaySeries(DayValues.of(days))
    assert (from_held.base, from_held.last, from_held.exact) == (from_dict.base, from_dict.last, from_dict.exact)
    assert from_held.first_positive == from_dict.first_positive
    if from_dict.exact:
        assert from_held.prefix.tobytes() == from_dict.prefix.tobytes()  # to the bit


def test_days_without_a_count_are_absent_not_zero_and_a_datetime_is_no_key() -> None:
    held = DayValues.of({D0: 3.0, D0 + timedelta(days=3): 0.0})
    assert D0 + timedelta(days=1) not in held
    assert held.get(D0 + timedelta(days=1)) is None
    assert held[D0 + timedelta(days=3)] == 0.0
    assert len(held) == 2
    assert datetime(2026, 9, 28, tzinfo=UTC) not in held  # as in a dict: a datetime never equals a date
    first, values = held.span()
    assert first == D0.toordinal()
    assert values.tolist() == [3.0, 0.0, 0.0, 0.0]  # the days between hold 0.0 and are not keys
    assert values.readonly
    assert DayValues.of(()) == {}
    assert not DayValues.of(())


def test_a_later_pair_for_a_day_wins_and_replacing_days_makes_a_new_object() -> None:
    held = DayValues.of([(D0, 1.0), (D0 + timedelta(days=2), 2.0), (D0, 5.0)])
    assert dict(held.items()) == {D0: 5.0, D0 + timedelta(days=2): 2.0}
    first, last = D0 + timedelta(days=1), D0 + timedelta(days=2)
    assert held.any_between(first, last)
    assert not held.any_between(D0 + timedelta(days=3), D0 + timedelta(days=9))
    assert held.same_between(first, last, {D0 + timedelta(days=2): 2.0})
    assert not held.same_between(first, last, {D0 + timedelta(days=1): 2.0, D0 + timedelta(days=2): 2.0})
    replaced = held.replaced(first, last, {D0 + timedelta(days=1): 7.0})
    assert replaced == {D0: 5.0, D0 + timedelta(days=1): 7.0}
    assert held == {D0: 5.0, D0 + timedelta(days=2): 2.0}  # never edited in place
    assert replaced._present is None  # every day of the span has a count again: no mask


def test_many_pairs_in_any_order_keep_the_last_for_each_day() -> None:
    pairs = [(D0 + timedelta(days=(n * 37) % 200), float(n)) for n in range(500)]  # each day 2 or 3 times
    want = dict(pairs)  # a later pair wins, as in a dict
    assert DayValues.of(pairs) == want
    assert list(DayValues.of(pairs).items()) == sorted(want.items())


def test_a_quarter_of_counts_costs_eight_bytes_a_day() -> None:
    quarter = DayValues.of({D0 + timedelta(days=n): float(n % 7) for n in range(92)})
    assert quarter._present is None
    assert len(quarter._values) * quarter._values.itemsize == 92 * 8


@given(day_maps, day_maps, st.integers(min_value=-45, max_value=45), st.integers(min_value=0, max_value=20))
def test_replacing_a_run_of_days_equals_the_dict_way(
    days: dict[date, float], pushed: dict[date, float], start: int, length: int
) -> None:
    first, last = D0 + timedelta(days=start), D0 + timedelta(days=start + length)
    fresh = {day: value for day, value in pushed.items() if first <= day <= last}
    held = DayValues.of(days)
    want = {day: value for day, value in days.items() if not first <= day <= last} | fresh
    replaced = held.replaced(first, last, DayValues.of(fresh))
    assert replaced == want
    # The same canonical arrays as made afresh, so DayValues compare by their arrays.
    made = DayValues.of(want)
    assert (replaced._first, replaced._present, replaced._size) == (made._first, made._present, made._size)
    assert held.any_between(first, last) == any(first <= day <= last for day in days)
    in_range = {day: value for day, value in days.items() if first <= day <= last}
    assert held.same_between(first, last, fresh) == (in_range == fresh)


def test_a_new_subjects_first_push_holds_just_its_days() -> None:
    # Replacing days of an empty DayValues once grew an array from day 1 of the calendar (6 MB).
    pushed = DayValues.of(()).replaced(D0, D0, {D0: 4.0})
    assert pushed == {D0: 4.0}
    assert len(pushed._values) == 1
