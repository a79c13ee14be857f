"""Prefix sums of an owner's daily counts equal the reference's sums exactly, and refuse what they cannot."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from itertools import pairwise

import pytest

from syncd.engine.day_values import DayValues
from syncd.engine.series import DayEdges, DaySeries

START = date(2026, 1, 1)


def _random_daily(rng: random.Random) -> dict[date, float]:
    days = rng.sample(range(200), rng.randrange(1, 120))
    return {START + timedelta(days=n): float(rng.randrange(0, 40)) for n in days}  # out of day order too


@pytest.mark.parametrize("seed", range(20))
def test_sums_over_any_days_equal_fsum(seed: int) -> None:
    rng = random.Random(seed)
    daily = _random_daily(rng)
    series = DaySeries(daily)
    assert series.exact
    for _ in range(50):
        first = START + timedelta(days=rng.randrange(-20, 220))
        last = first + timedelta(days=rng.randrange(-3, 90))
        want = math.fsum(count for day, count in daily.items() if first <= day <= last)
        assert series.total(first, last) == want
        running = series.running(first, last)
        assert len(running) == max(0, (last - first).days + 1)
        assert tuple(running[-1:]) == ((want,) if last >= first else ())
    starts = [START.toordinal() - 5, START.toordinal() + 10, START.toordinal() + 150]
    stops = [START.toordinal() + 10, START.toordinal() + 150, START.toordinal() + 400]
    got = series.runs(starts, stops)
    spans = [
        (START - timedelta(days=5), START + timedelta(days=9)),
        (START + timedelta(days=10), START + timedelta(days=149)),
    ]
    spans.append((START + timedelta(days=150), START + timedelta(days=399)))
    assert got == [math.fsum(c for d, c in daily.items() if a <= d <= b) for a, b in spans]
    # The same runs back to back, as edges: the same sums, and their total is their fsum.
    sums, total = series.blocks(DayEdges([*starts, stops[-1]]))
    assert (sums, total) == (got, math.fsum(got))
    assert series.blocks(DayEdges([])) == series.blocks(DayEdges(starts[:1])) == ([], 0.0)


@pytest.mark.parametrize("seed", range(20))
def test_blocks_before_after_and_across_the_stored_days_equal_fsum(seed: int) -> None:
    rng = random.Random(seed)
    daily = _random_daily(rng)
    series = DaySeries(daily)
    first = START.toordinal() + rng.randrange(-30, 230)
    edges = [first, *sorted(first + rng.randrange(0, 150) for _ in range(rng.randrange(1, 12)))]
    sums, total = series.blocks(DayEdges(edges))
    days = [date.fromordinal(ordinal) for ordinal in edges]
    want = [math.fsum(c for d, c in daily.items() if a <= d < b) for a, b in pairwise(days)]
    assert [s.hex() for s in sums] == [w.hex() for w in want]  # to the bit: no -0.0 for an empty run
    assert total.hex() == math.fsum(want).hex()


def test_edges_out_of_day_order_are_refused() -> None:
    with pytest.raises(ValueError, match="day order"):
        DayEdges([START.toordinal() + 3, START.toordinal() + 1])


def test_first_positive_skips_zero_days() -> None:
    daily = {date(2026, 3, 5): 2.0, date(2026, 3, 1): 0.0, date(2026, 3, 3): 1.0}
    assert DaySeries(daily).first_positive == date(2026, 3, 3)
    assert DaySeries({date(2026, 3, 1): 0.0}).first_positive is None
    # Not exact (a fraction, a negative): the first day above 0 all the same, in any insertion order.
    odd = {date(2026, 3, 9): 0.5, date(2026, 3, 2): -1.0, date(2026, 3, 4): 0.25, date(2026, 3, 3): -0.0}
    assert not DaySeries(odd).exact
    assert DaySeries(odd).first_positive == date(2026, 3, 4)
    assert DaySeries({date(2026, 3, 2): -1.0, date(2026, 3, 3): math.nan}).first_positive is None
    empty = DaySeries({})
    assert empty.exact
    assert empty.first_positive is None
    assert empty.total(START, START + timedelta(days=3)) == 0.0


@pytest.mark.parametrize("odd", [0.5, -1.0, -0.0, math.inf, math.nan, 2.0**53])
def test_counts_prefix_sums_cannot_sum_exactly_are_not_exact(odd: float) -> None:
    assert not DaySeries({START: 3.0, START + timedelta(days=1): odd}).exact


@pytest.mark.parametrize("held", [False, True])
def test_large_counts_are_exact_while_their_total_stays_below_2_to_the_52(held: bool) -> None:
    # Counts below 2**33 skip the summing check (fewer than 2**19 days of them cannot reach 2**52).
    def series(*counts: float) -> DaySeries:
        daily = {START + timedelta(days=n): count for n, count in enumerate(counts)}
        return DaySeries(DayValues.of(daily) if held else daily)

    assert series(2.0**33 - 1, 3.0).exact
    assert series(2.0**40, 3.0).exact
    assert series(2.0**40, 3.0).total(START, START + timedelta(days=1)) == 2.0**40 + 3.0
    assert not series(2.0**51, 2.0**51).exact
    assert not series(2.0**40, 0.5).exact
    assert series(2.0**40, 0.5).first_positive == START


def test_a_trail_read_from_running_totals_equals_the_packed_one() -> None:
    from syncd.engine.trail import GoalTrail, actual_trail

    daily = {date(2026, 11, 2): 3.0, date(2026, 11, 4): 2.0}
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(5)]
    lazy = GoalTrail((1.0,), totals=DaySeries(daily), first=days[0], last=days[-1])
    assert list(lazy.actual) == [0.0, 3.0, 3.0, 5.0, 5.0]
    assert lazy == GoalTrail((1.0,), actual_trail(days, days[-1], daily=daily))
    assert lazy != GoalTrail((2.0,), actual_trail(days, days[-1], daily=daily))
    with pytest.raises(ValueError, match="running totals"):
        GoalTrail((1.0,), totals=DaySeries(daily))
