"""The goal forecast (syncd/engine/forecast.py) against hand-computed values, edge cases and properties."""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.forecast_calibration import run as run_calibration
from syncd.engine.forecast import (
    DISPERSION_PRIOR,
    PRIOR_COUNTS,
    RateEstimate,
    daily_history,
    estimate_from_blocks,
    estimate_rate,
    hit_probability,
    negative_binomial_survival,
    regularized_beta,
    remaining_counts,
)


def direct_survival(count: int, size: float, success: float) -> float:
    """P(S >= count) as 1 − Σ pmf(k) for k < count, the pmf from log-gamma: independent of the beta."""
    below = math.fsum(
        math.exp(
            math.lgamma(k + size)
            - math.lgamma(size)
            - math.lgamma(k + 1)
            + size * math.log(success)
            + k * math.log1p(-success)
        )
        for k in range(count)
    )
    return 1.0 - below


# --- the special functions ---------------------------------------------------------------------


def test_regularized_beta_matches_the_binomial_sum() -> None:
    # I_x(2, 3) = P(Binomial(4, x) >= 2) = 6x²(1−x)² + 4x³(1−x) + x⁴; at 0.3: 0.2646 + 0.0756 + 0.0081.
    assert regularized_beta(0.3, 2, 3) == pytest.approx(0.3483, abs=1e-12)
    assert regularized_beta(0.0, 2, 3) == 0.0
    assert regularized_beta(1.0, 2, 3) == 1.0
    # a = b: symmetric about one half.
    assert regularized_beta(0.5, 1e6, 1e6) == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize(("x", "a", "b"), [(-0.1, 1, 1), (1.1, 1, 1), (0.5, 0, 1), (0.5, 1, -2), (0.5, math.nan, 1)])
def test_regularized_beta_rejects_what_it_cannot_mean(x: float, a: float, b: float) -> None:
    with pytest.raises(ValueError, match="regularized_beta"):
        regularized_beta(x, a, b)


def test_negative_binomial_survival_small_case_by_hand() -> None:
    # size 2, success 1/2: pmf(k) = (k + 1) / 2^(k+2), so pmf 0, 1, 2 = 1/4, 2/8, 3/16.
    assert negative_binomial_survival(0, size=2, success=0.5) == 1.0
    assert negative_binomial_survival(1, size=2, success=0.5) == pytest.approx(0.75, abs=1e-14)
    assert negative_binomial_survival(2, size=2, success=0.5) == pytest.approx(0.5, abs=1e-14)
    assert negative_binomial_survival(3, size=2, success=0.5) == pytest.approx(0.3125, abs=1e-14)


def test_negative_binomial_survival_with_a_fractional_size() -> None:
    # pmf(0) = success ** size = 0.5 ** 0.5.
    assert negative_binomial_survival(1, size=0.5, success=0.5) == pytest.approx(1 - math.sqrt(0.5), abs=1e-14)


def test_negative_binomial_survival_tends_to_poisson() -> None:
    # Size → ∞ at mean 3: Poisson(3). P(S >= 5) = 1 − e^−3 (1 + 3 + 9/2 + 27/6 + 81/24) = 1 − 16.375 e^−3.
    size = 1e7
    survival = negative_binomial_survival(5, size=size, success=size / (size + 3.0))
    assert survival == pytest.approx(1 - 16.375 * math.exp(-3), abs=1e-6)
    assert survival == pytest.approx(0.18473675547622792, abs=1e-6)


@pytest.mark.parametrize(("count", "size", "success"), [(44, 14.0, 0.35), (3, 0.2, 0.01), (120, 80.5, 0.4)])
def test_negative_binomial_survival_matches_a_direct_sum(count: int, size: float, success: float) -> None:
    assert negative_binomial_survival(count, size=size, success=success) == pytest.approx(
        direct_survival(count, size, success), abs=1e-12
    )


# --- the estimate ------------------------------------------------------------------------------


def test_estimate_rate_by_hand() -> None:
    # Counts 2, 4, 6, 4 over four whole days: rate 4, Pearson X² = (4 + 0 + 4 + 0) / 4 = 2 on 3 degrees.
    # D = (2 + 4 × 2) / (3 + 4) = 10/7. Prior (plan 5 a day): D × 4 = 40/7 counts over
    # D × (4 − 1/3) / 5 = 22/21 of weight. Rate = (40/7 + 16) / (22/21 + 4) = (152/7) / (106/21) = 456/106.
    assert (PRIOR_COUNTS, DISPERSION_PRIOR) == (4.0, 2.0)
    estimate = estimate_rate([(2, 1), (4, 1), (6, 1), (4, 1)], planned_rate=5)
    assert estimate.dispersion == pytest.approx(10 / 7, rel=1e-14)
    assert estimate.weight == pytest.approx(106 / 21, rel=1e-14)
    assert estimate.rate == pytest.approx(456 / 106, rel=1e-14)


def test_remaining_counts_by_hand() -> None:
    # R = 6: mean = 6 × 456/106; 1/success − 1 = (D − 1) + D × R / evidence = 3/7 + (10/7)(126/106).
    estimate = RateEstimate(rate=456 / 106, dispersion=10 / 7, weight=106 / 21)
    counts = remaining_counts(estimate, 6)
    excess = 3 / 7 + (10 / 7) * (126 / 106)
    assert counts.mean == pytest.approx(2736 / 106, rel=1e-14)
    assert counts.success == pytest.approx(1 / (1 + excess), rel=1e-14)
    assert counts.size == pytest.approx((2736 / 106) / excess, rel=1e-14)
    # The negative binomial's own mean, size × (1 − success) / success, is the rate × R.
    assert counts.size * (1 - counts.success) / counts.success == pytest.approx(counts.mean, rel=1e-12)


def test_hit_probability_by_hand() -> None:
    # The case above with target 60 and value 16: 44 more are needed from NB(size, success).
    excess = 3 / 7 + (10 / 7) * (126 / 106)
    expected = direct_survival(44, (2736 / 106) / excess, 1 / (1 + excess))
    probability = hit_probability(
        value=16, target=60, remaining_weight=6, history=[(2, 1), (4, 1), (6, 1), (4, 1)], planned_rate=5
    )
    assert probability == pytest.approx(expected, abs=1e-12)
    assert 0.03 < probability < 0.04


def test_weightless_days_join_the_previous_weighted_day() -> None:
    # A leading Sunday's 5 joins the first weighted day (Friday's 2), and Saturday's 3 joins it too.
    folded = estimate_rate([(5, 0), (2, 1), (3, 0), (4, 1)], planned_rate=2)
    assert folded == estimate_rate([(10, 1), (4, 1)], planned_rate=2)
    # Rate 7 over the two blocks: X² = (3² + 3²) / 7 = 18/7 on 1 degree; D = (18/7 + 8) / 5 = 74/35.
    assert folded.dispersion == pytest.approx(74 / 35, rel=1e-14)


def test_under_dispersed_history_is_treated_as_poisson() -> None:
    assert estimate_rate([(10, 1)] * 30, planned_rate=10).dispersion == 1.0


def test_no_history_is_the_prior_alone() -> None:
    estimate = estimate_rate([], planned_rate=5)
    assert estimate.dispersion == DISPERSION_PRIOR
    # Mean of a gamma with shape 4 and median ~5: 5 × 4 / (4 − 1/3).
    assert estimate.rate == pytest.approx(5 * 4 / (11 / 3), rel=1e-14)


# --- hit probability: edges ---------------------------------------------------------------------


def test_achieved_is_certain() -> None:
    assert hit_probability(value=400, target=400, remaining_weight=10, history=[], planned_rate=20) == 1.0
    assert hit_probability(value=0, target=0, remaining_weight=0, history=[], planned_rate=0) == 1.0


def test_no_time_left_is_a_miss() -> None:
    assert hit_probability(value=399, target=400, remaining_weight=0, history=[(50, 1)], planned_rate=20) == 0.0


def test_a_new_owner_gets_even_odds() -> None:
    for target in (1, 20, 400, 100_000):
        probability = hit_probability(value=0, target=target, remaining_weight=20, history=[], planned_rate=target / 20)
        assert 0.49 < probability < 0.51


def test_a_history_of_zeros_leaves_a_small_defined_chance() -> None:
    probability = hit_probability(value=0, target=100, remaining_weight=10, history=[(0, 1)] * 10, planned_rate=5)
    assert 0.0 < probability < 1e-3


def test_an_owner_well_ahead_is_nearly_sure() -> None:
    probability = hit_probability(value=300, target=400, remaining_weight=10, history=[(30, 1)] * 10, planned_rate=20)
    assert probability > 0.999


def test_float_noise_in_the_target_is_not_one_count_more() -> None:
    history = [(18, 1), (22, 1), (19, 1)]
    exact = hit_probability(value=10, target=390, remaining_weight=17, history=history, planned_rate=19.5)
    noisy = hit_probability(
        value=10, target=390.00000000000006, remaining_weight=17, history=history, planned_rate=19.5
    )
    assert noisy == exact


@pytest.mark.parametrize(
    "arguments",
    [
        {"value": math.nan},
        {"target": math.inf},
        {"remaining_weight": -1.0},
        {"history": [(1.0, -1.0)]},
        {"history": [(math.nan, 1.0)]},
        {"planned_rate": -2.0},
    ],
)
def test_bad_inputs_are_rejected(arguments: dict[str, object]) -> None:
    inputs: dict[str, object] = {
        "value": 1.0,
        "target": 10.0,
        "remaining_weight": 5.0,
        "history": [(1.0, 1.0)],
        "planned_rate": 1.0,
    } | arguments
    with pytest.raises(ValueError, match="must be"):
        hit_probability(**inputs)  # type: ignore[arg-type]


def test_daily_history_takes_whole_days_before_today() -> None:
    weights = {date(2026, 11, 20): 1.0, date(2026, 11, 21): 0.0, date(2026, 11, 23): 1.0, date(2026, 11, 24): 1.0}
    counts = {date(2026, 11, 20): 4.0, date(2026, 11, 21): 2.0, date(2026, 11, 24): 9.0}
    assert daily_history(counts, weights, date(2026, 11, 24)) == [(4.0, 1.0), (2.0, 0.0), (0.0, 1.0)]


# --- hit probability: properties ----------------------------------------------------------------

counts_per_day = st.tuples(
    st.integers(min_value=0, max_value=500).map(float), st.sampled_from([0.0, 0.25, 1.0, 1.0, 1.0, 2.0])
)
histories = st.lists(counts_per_day, max_size=40)
amounts = st.floats(min_value=0, max_value=5000, allow_nan=False)
remaining = st.floats(min_value=0, max_value=60, allow_nan=False)
rates = st.floats(min_value=1e-3, max_value=500, allow_nan=False)


@settings(max_examples=400)
@given(value=amounts, target=amounts, remaining_weight=remaining, history=histories, planned_rate=rates)
def test_probability_is_a_number_in_the_unit_interval(
    value: float, target: float, remaining_weight: float, history: list[tuple[float, float]], planned_rate: float
) -> None:
    probability = hit_probability(
        value=value, target=target, remaining_weight=remaining_weight, history=history, planned_rate=planned_rate
    )
    assert isinstance(probability, float)
    assert 0.0 <= probability <= 1.0


@settings(max_examples=400)
@given(
    values=st.tuples(amounts, amounts),
    target=amounts,
    remaining_weight=remaining,
    history=histories,
    planned_rate=rates,
)
def test_probability_never_decreases_as_value_grows(
    values: tuple[float, float],
    target: float,
    remaining_weight: float,
    history: list[tuple[float, float]],
    planned_rate: float,
) -> None:
    low, high = sorted(values)
    common = {"target": target, "remaining_weight": remaining_weight, "history": history, "planned_rate": planned_rate}
    assert hit_probability(value=low, **common) <= hit_probability(value=high, **common)  # type: ignore[arg-type]


@settings(max_examples=400)
@given(
    targets=st.tuples(amounts, amounts),
    value=amounts,
    remaining_weight=remaining,
    history=histories,
    planned_rate=rates,
)
def test_probability_never_increases_as_target_grows(
    targets: tuple[float, float],
    value: float,
    remaining_weight: float,
    history: list[tuple[float, float]],
    planned_rate: float,
) -> None:
    low, high = sorted(targets)
    common = {"value": value, "remaining_weight": remaining_weight, "history": history, "planned_rate": planned_rate}
    assert hit_probability(target=low, **common) >= hit_probability(target=high, **common)  # type: ignore[arg-type]


def _numpy_estimate(counts: list[float], weights: list[float], planned_rate: float) -> RateEstimate:
    """estimate_from_blocks as it was with numpy arrays (before syncd dropped numpy), for comparison."""
    import numpy as np

    array_counts, array_weights = np.array(counts, dtype=np.float64), np.array(weights, dtype=np.float64)
    total_count, total_weight = math.fsum(counts), math.fsum(weights)
    pearson, degrees = 0.0, 0
    if total_count > 0.0 and array_counts.size >= 2:
        expected = total_count / total_weight * array_weights
        deviation = array_counts - expected
        with np.errstate(all="ignore"):
            pearson = math.fsum((deviation * deviation / expected).tolist())
        degrees = array_counts.size - 1
    dispersion = max(1.0, (pearson + 4.0 * DISPERSION_PRIOR) / (degrees + 4.0))
    prior_counts = dispersion * PRIOR_COUNTS if planned_rate > 0.0 else 0.0
    prior_weight = dispersion * (PRIOR_COUNTS - 1.0 / 3.0) / planned_rate if planned_rate > 0.0 else 0.0
    evidence = prior_weight + total_weight
    rate = (prior_counts + total_count) / evidence if evidence > 0.0 else 0.0
    return RateEstimate(rate=rate, dispersion=dispersion, weight=evidence)


blocks = st.lists(
    st.tuples(
        st.one_of(st.integers(min_value=0, max_value=500).map(float), st.floats(min_value=0, max_value=1e6)),
        st.floats(min_value=1e-3, max_value=10.0),
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(history=blocks, planned_rate=st.one_of(st.just(0.0), rates))
def test_the_estimate_is_numpys_elementwise_arithmetic_to_the_bit(
    history: list[tuple[float, float]], planned_rate: float
) -> None:
    counts, weights = [count for count, _ in history], [weight for _, weight in history]
    got = estimate_from_blocks(counts, weights, total_weight=math.fsum(weights), planned_rate=planned_rate)
    want = _numpy_estimate(counts, weights, planned_rate)
    assert (got.rate.hex(), got.dispersion.hex(), got.weight.hex()) == (
        want.rate.hex(),
        want.dispersion.hex(),
        want.weight.hex(),
    )


@pytest.mark.parametrize(
    ("counts", "weights", "dispersion"),
    [
        ([1.0, 0.0], [1e-300, 1e300], math.inf),  # rate 1e-300 × 1e-300 rounds to 0: 1 / 0 is inf
        ([5e-324, 0.0, 0.0], [1.0, 1.0, 1.0], 1.0),  # 0 / 0 is NaN, and max(1.0, NaN) is 1.0
    ],
)
def test_an_expected_count_that_underflows_to_zero_divides_as_ieee_does(
    counts: list[float], weights: list[float], dispersion: float
) -> None:
    # Python's float division raises where array arithmetic gives inf or NaN.
    got = estimate_from_blocks(counts, weights, total_weight=math.fsum(weights), planned_rate=1.0)
    want = _numpy_estimate(counts, weights, 1.0)
    assert (got.rate.hex(), got.dispersion.hex(), got.weight.hex()) == (
        want.rate.hex(),
        want.dispersion.hex(),
        want.weight.hex(),
    )
    assert got.dispersion == dispersion


# --- the calibration benchmark ------------------------------------------------------------------


def test_calibration_benchmark_beats_the_naive_forecast() -> None:
    report = run_calibration(scenarios=1500, seed=7)
    assert sum(row.goals for row in report.bins) == 1500
    assert report.calibration_error < 0.05
    assert report.brier < 0.75 * report.naive_brier
    assert report.brier < 0.5 * report.climatology_brier


def test_the_backtest_runs_through_the_daemons_evaluation_at_a_toy_size():
    from bench.forecast_backtest import backtest, reliability

    scored = backtest(owners=3, seed=7)
    assert len(scored) >= 3 * 11 * 3  # a few evaluations may have no probability
    assert all(0.0 <= s.probability <= 1.0 for s in scored)
    rows = reliability(scored)
    assert sum(row.goals for row in rows) == len(scored)
