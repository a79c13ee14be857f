"""The push body's fast path accepts exactly what the full model accepts, with the same counts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from syncd.serve import push
from syncd.serve.push import ObservationBatch, parse_observations
from syncd.store.push_repository import PushedCount

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")

_values = st.one_of(
    st.integers(-2, 10**16),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["3", True, None, 1e15, 1e15 + 1]),
)
_days = st.one_of(
    st.dates(date(2010, 1, 1), date(2042, 12, 31)).map(str),
    st.sampled_from(["2026-02-30", "2026-3-01", "20260301", "2026-03-01T00:00:00", "", 1774742400, None]),
)
_names = st.one_of(
    st.text(min_size=0, max_size=3),
    st.sampled_from(["emails_sent", "  calls ", "a\x00b", "x" * 201, "tag1"]),
)
_item = st.fixed_dictionaries(
    {"metric": _names, "day": _days, "value": _values},
    optional={
        "subject": _names,
        "mode": st.sampled_from(["set", "add", "ADD", 1]),
        "key": st.one_of(st.none(), _names),
        "at": st.sampled_from(["2026-03-29T00:30:00+01:00", "2026-03-29T23:30:00Z", "yesterday"]),
        "extra": st.just(1),
    },
)


def _full(document: object) -> list[PushedCount] | str:
    try:
        batch = ObservationBatch.model_validate(document, context={"now": NOW})
    except ValidationError as exc:
        return str(exc.errors()[0]["loc"])
    return [observation.resolve(LONDON) for observation in batch.observations]


@settings(max_examples=400, deadline=None)
@given(st.lists(_item, max_size=4))
def test_the_fast_path_agrees_with_the_model_on_any_batch(items: list[dict[str, object]]) -> None:
    document = {"observations": items}
    want = _full(document)
    try:
        got: list[PushedCount] | str = parse_observations(document, NOW, LONDON)
    except ValidationError as exc:
        got = str(exc.errors()[0]["loc"])
    assert got == want


def test_a_plain_batch_takes_the_fast_path_and_a_bad_item_is_named_by_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items = [{"metric": "calls", "subject": f"s{n}", "day": "2026-03-27", "value": n} for n in range(3)]
    items.append({"metric": "calls", "day": "2026-03-28", "value": 2.5, "mode": "add", "key": "k1"})
    full_model = []
    monkeypatch.setattr(push.ObservationBatch, "model_validate", lambda *a, **k: full_model.append(1))
    counts = parse_observations({"observations": items}, NOW, LONDON)
    assert not full_model  # the model never ran
    assert counts[0] == PushedCount("calls", "s0", date(2026, 3, 27), 0.0, "set", None)
    assert isinstance(counts[0].value, float)
    assert counts[3] == PushedCount("calls", "all", date(2026, 3, 28), 2.5, "add", "k1")
    monkeypatch.undo()

    items[2] = {"metric": "calls", "day": "2015-01-01", "value": 1}  # more than ten years ago
    with pytest.raises(ValidationError) as caught:
        parse_observations({"observations": items}, NOW, LONDON)
    assert push.describe_errors(caught.value) == ["observations[2]: day must be within 10 years of today"]
