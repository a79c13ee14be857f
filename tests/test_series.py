"""Prefix sums of an owner's daily counts equal the reference's sums exactly, and refuse what they cannot."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import numpy as np
import pytest

from syncd.engine.series import DaySeries

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
    starts = np.array([START.toordinal() - 5, START.toordinal() + 10, START.toordinal() + 150], dtype=np.int64)
    stops = np.array([START.toordinal() + 10, START.toordinal() + 150, START.toordinal() + 400], dtype=np.int64)
    got = series.runs(starts, stops).tolist()
    spans = [
        (START - timedelta(days=5), START + timedelta(days=9)),
        (START + timedelta(days=10), START + timedelta(days=149)),
    ]
    spans.append((START + timedelta(days=150), START + timedelta(days=399)))
    assert got == [math.fsum(c for d, c in daily.items() if a <= d <= b) for a, b in spans]
    # The same runs back to back, as edges: the same sums, and their total is their fsum.
    sums, total = series.blocks(np.array([*starts.tolist(), stops.tolist()[-1]], dtype=np.int64))
    assert (sums.tolist(), total) == (got, math.fsum(got))
    assert (series.blocks(np.array([], dtype=np.int64))[0].size, series.blocks(starts[:1])[1]) == (0, 0.0)


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
