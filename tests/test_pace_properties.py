"""Properties the pace maths must keep for any period, curve, zone and instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.engine.pace import (
    BusinessDays,
    CustomWeights,
    Linear,
    PacingCurve,
    checkin_target,
    day_weights,
    elapsed_fraction,
    pace_figures,
)
from syncd.engine.periods import CheckinKind, Period, checkin_periods, custom_period

# Zones with the awkward cases: DST at 01:00/02:00, a 30-minute DST (Lord Howe), midnight jumps
# (Santiago) and a half-hour offset without DST (Kolkata).
ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
]

zones = st.sampled_from(ZONES).map(ZoneInfo)


@st.composite
def periods(draw: st.DrawFn) -> Period:
    first_day = draw(st.dates(min_value=date(2010, 1, 1), max_value=date(2035, 12, 31)))
    length = draw(st.integers(min_value=1, max_value=400))
    return custom_period(first_day, first_day + timedelta(days=length - 1))


@st.composite
def curves(draw: st.DrawFn, period: Period) -> PacingCurve:
    weight = st.floats(min_value=0, max_value=10, allow_nan=False, allow_infinity=False)
    choice = draw(st.sampled_from(["linear", "business_days", "custom"]))
    if choice == "linear":
        return Linear()
    if choice == "business_days":
        return BusinessDays(frozenset(draw(st.sets(st.sampled_from(period.days()), max_size=10))))
    return CustomWeights(
        weekday=draw(st.dictionaries(st.integers(0, 6), weight, max_size=7)),
        month=draw(st.dictionaries(st.integers(1, 12), weight, max_size=12)),
    )


def instant_around(period: Period, tz: ZoneInfo, seconds: int) -> datetime:
    return period.start(tz).astimezone(UTC) + timedelta(seconds=seconds)


@given(data=st.data(), period=periods(), tz=zones)
def test_elapsed_is_zero_at_start_and_one_at_deadline(data: st.DataObject, period: Period, tz: ZoneInfo) -> None:
    weights = day_weights(period, data.draw(curves(period)))
    assert elapsed_fraction(period, weights, period.start(tz), tz) == 0.0
    assert elapsed_fraction(period, weights, period.deadline(tz), tz) == 1.0


@given(data=st.data(), period=periods(), tz=zones)
def test_elapsed_never_decreases(data: st.DataObject, period: Period, tz: ZoneInfo) -> None:
    weights = day_weights(period, data.draw(curves(period)))
    span = int((period.deadline(tz) - period.start(tz)).total_seconds())
    offsets = data.draw(st.lists(st.integers(-86_400, span + 86_400), min_size=2, max_size=20))
    fractions = [elapsed_fraction(period, weights, instant_around(period, tz, s), tz) for s in sorted(offsets)]
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)


@given(data=st.data(), period=periods(), tz=zones)
def test_elapsed_is_continuous_across_midnight(data: st.DataObject, period: Period, tz: ZoneInfo) -> None:
    # The last microsecond of a day and the first of the next give the same share, up to w/1e11.
    weights = day_weights(period, data.draw(curves(period)))
    day = data.draw(st.sampled_from(period.days()[1:] or period.days()))
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    before = elapsed_fraction(period, weights, midnight - timedelta(microseconds=1), tz)
    after = elapsed_fraction(period, weights, midnight, tz)
    assert before <= after
    assert after - before < 1e-9


@given(
    data=st.data(),
    period=periods(),
    kind=st.sampled_from(["week", "fortnight", "month"]),
    week_start=st.integers(0, 6),
    target=st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False),
)
def test_checkin_targets_sum_to_the_period_target(
    data: st.DataObject, period: Period, kind: CheckinKind, week_start: int, target: float
) -> None:
    weights = day_weights(period, data.draw(curves(period)))
    checkins = checkin_periods(period, kind, week_start=week_start)
    total = sum(checkin_target(target, checkin, period, weights) for checkin in checkins)
    assert total == pytest.approx(target, rel=1e-12, abs=1e-9)


# Realistic inputs: counts to a thousandth, E no smaller than a microsecond of a long period, W
# either nothing or at least a hundredth of a day. Outside them products underflow to 0 (1e-175²).
counts = st.one_of(
    st.integers(0, 10**9).map(float),
    st.floats(min_value=0, max_value=1e9).map(lambda x: round(x, 3)),
)
elapsed_fractions = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(min_value=1e-12, max_value=1.0))
total_weights = st.one_of(st.just(0.0), st.floats(min_value=0.01, max_value=400))


@given(
    value=counts,
    target=counts,
    elapsed=elapsed_fractions,
    total_weight=total_weights,
    tolerance=st.floats(min_value=0, max_value=1),
)
def test_buffer_days_has_the_sign_of_value_minus_expected(
    value: float, target: float, elapsed: float, total_weight: float, tolerance: float
) -> None:
    result = pace_figures(value=value, target=target, elapsed=elapsed, total_weight=total_weight, tolerance=tolerance)
    gap = value - result.expected
    if target > 0 and total_weight > 0:
        assert (result.buffer_days > 0) == (gap > 0)
        assert (result.buffer_days < 0) == (gap < 0)
    else:
        assert result.buffer_days == 0.0


@given(
    value=counts,
    target=counts,
    elapsed=elapsed_fractions,
    total_weight=total_weights,
)
def test_every_figure_is_finite_and_the_status_follows_the_ratio(
    value: float, target: float, elapsed: float, total_weight: float
) -> None:
    result = pace_figures(value=value, target=target, elapsed=elapsed, total_weight=total_weight)
    numbers = [
        result.expected,
        result.pace_ratio,
        result.progress_ratio,
        result.projected,
        result.required_daily_rate,
        result.buffer_days,
    ]
    assert all(abs(number) < float("inf") for number in numbers)
    assert result.required_daily_rate >= 0
    if value >= target:
        assert result.status == "achieved"
    elif result.pace_ratio >= 1.1:
        assert result.status == "ahead"
    elif result.pace_ratio < 0.9:
        assert result.status == "behind"
    else:
        assert result.status == "on_pace"
