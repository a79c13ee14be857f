"""A value the database refuses is a data error (answered 422), not an outage (503, retried forever)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from syncd.errors import StorageDataError
from syncd.store import create_engine_for, upgrade
from syncd.store.push_repository import PushedCount, apply_pushed_counts, load_pushed_value

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)


@pytest.mark.postgres
def test_postgresql_refusing_a_nul_is_a_data_error_and_stores_nothing(postgres_schema_url: str) -> None:
    engine = create_engine_for(postgres_schema_url)
    try:
        upgrade(engine)
        good = PushedCount(metric="calls_held", subject="alice", day=date(2026, 3, 27), value=1.0)
        bad = PushedCount(metric="calls_held", subject="ali\x00ce", day=date(2026, 3, 27), value=1.0)
        with pytest.raises(StorageDataError, match="cannot store pushed counts of calls"):
            apply_pushed_counts(engine, source="calls", counts=[good, bad], at=NOW)
        assert load_pushed_value(engine, source="calls", metric="calls_held", subject="alice", day=good.day) is None
    finally:
        engine.dispose()


def test_an_ordinary_batch_is_no_data_error(engine: Engine) -> None:
    count = PushedCount(metric="calls_held", subject="alice", day=date(2026, 3, 27), value=2e15)
    outcome = apply_pushed_counts(engine, source="calls", counts=[count], at=NOW)
    assert outcome.stored == 1
    assert load_pushed_value(engine, source="calls", metric="calls_held", subject="alice", day=count.day) == 2e15
