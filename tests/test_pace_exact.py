"""`pace_figures` in integer ratios gives, to the last bit, what exact `Fraction` arithmetic gives.

The oracle below is the Fraction formulation pace_figures had before it moved to integer ratios
(it cost ~50% of an evaluation): every figure is the exact value rounded once, then to 15 digits.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from syncd.engine.pace import Direction, PaceFigures, _status, pace_figures


def _rounded(number: Fraction) -> float:
    try:
        nearest = float(number)
    except OverflowError:
        nearest = math.inf if number > 0 else -math.inf
    denoised = float(f"{nearest:.15g}")
    return denoised if math.isfinite(denoised) else math.copysign(sys.float_info.max, denoised)


def fraction_pace_figures(
    value: float, target: float, elapsed: float, total_weight: float, tolerance: float,
    baseline: float | None, direction: Direction,
) -> PaceFigures:  # fmt: skip
    v, t, e, w = (Fraction(x) for x in (value, target, elapsed, total_weight))
    paced_from = Fraction(0) if baseline is None else Fraction(baseline)
    expected_exact = paced_from + (t - paced_from) * e
    expected = _rounded(expected_exact)
    pace_ratio = 1.0 if expected_exact == 0 else _rounded(v / expected_exact)
    remaining = max(Fraction(0), v - t if direction == "at_most" else t - v)
    working_time_left = w * (1 - e)
    low, high = sorted((expected_exact, Fraction(expected)))
    gap = Fraction(0) if low <= v <= high else v - expected_exact
    if direction == "at_most":
        gap = -gap
    return PaceFigures(
        expected=expected,
        pace_ratio=pace_ratio,
        progress_ratio=1.0 if t == 0 else _rounded(v / t),
        elapsed_ratio=elapsed,
        projected=float(value) if e == 0 else _rounded(v / e),
        required_daily_rate=_rounded(remaining if working_time_left == 0 else remaining / working_time_left),
        buffer_days=_rounded(gap * w / t) if t > 0 and w > 0 else 0.0,
        status=_status(value, target, pace_ratio, tolerance, direction),
    )


amounts = st.one_of(
    st.integers(0, 5000).map(float),
    st.floats(0, 1e6, allow_nan=False),
    st.sampled_from([0.0, 0.1, 0.3, 0.7, 5e-324, 1e-300, 1e300, sys.float_info.max, 333.3, 390.0]),
)
fractions_of_one = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.5, 0.1, 5e-324, 1 - 2**-53]))


@settings(max_examples=400, deadline=None)
@given(
    value=amounts,
    target=amounts,
    elapsed=fractions_of_one,
    total_weight=st.one_of(st.integers(0, 400).map(float), st.floats(0, 1e4), st.just(5e-324)),
    tolerance=st.sampled_from([0.0, 0.05, 0.1, 0.25]),
    baseline=st.one_of(st.none(), amounts.map(lambda x: -x), amounts),
    direction=st.sampled_from(["at_least", "at_most"]),
)
@example(value=90.0, target=300.0, elapsed=0.3, total_weight=20.0, tolerance=0.1, baseline=None, direction="at_least")
@example(
    value=1e300, target=1e-300, elapsed=5e-324, total_weight=1.0, tolerance=0.1, baseline=None, direction="at_least"
)
def test_integer_ratios_equal_exact_fractions(
    value: float, target: float, elapsed: float, total_weight: float, tolerance: float,
    baseline: float | None, direction: Direction,
) -> None:  # fmt: skip
    want = fraction_pace_figures(value, target, elapsed, total_weight, tolerance, baseline, direction)
    got = pace_figures(
        value=value, target=target, elapsed=elapsed, total_weight=total_weight, tolerance=tolerance,
        baseline=baseline, direction=direction,
    )  # fmt: skip
    assert got == want


@pytest.mark.parametrize(
    ("value", "elapsed", "status"),
    # Target 100, tolerance 0.1: pace exactly 0.9 and 1.1 are on the band's edges (on_pace, ahead).
    [(45.0, 0.5, "on_pace"), (55.0, 0.5, "ahead"), (44.9999999, 0.5, "behind"), (100.0, 0.2, "achieved")],
)
def test_statuses_at_the_band_edges(value: float, elapsed: float, status: str) -> None:
    figures = pace_figures(value=value, target=100.0, elapsed=elapsed, total_weight=20.0, tolerance=0.1)
    assert figures.status == status
    assert figures == fraction_pace_figures(value, 100.0, elapsed, 20.0, 0.1, None, "at_least")
