"""Pushed counts on SQLite and PostgreSQL: set replaces, add applies once per key, all or nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select

from connectors.base import DailyCount
from syncd.store import load_daily_counts, save_sync, upgrade
from syncd.store.database import alembic_config
from syncd.store.push_models import PUSH_RECEIPTS
from syncd.store.push_repository import PushedCount, apply_pushed_counts, load_pushed_value

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
D1 = date(2026, 3, 9)
D2 = date(2026, 3, 10)


def stored(engine: Engine, source: str = "calls", metric: str = "calls_held") -> dict[str, dict[date, float]]:
    counts = load_daily_counts(engine, keys=[(source, metric)], first_day=date(2026, 1, 1), last_day=date(2026, 12, 31))
    return counts[(source, metric)]


def add(value: float, key: str, *, day: date = D1, subject: str = "alice", metric: str = "calls_held") -> PushedCount:
    return PushedCount(metric=metric, subject=subject, day=day, value=value, mode="add", key=key)


def put(value: float, *, day: date = D1, subject: str = "alice", metric: str = "calls_held") -> PushedCount:
    return PushedCount(metric=metric, subject=subject, day=day, value=value, mode="set")


def test_set_replaces_the_days_count(engine: Engine) -> None:
    apply_pushed_counts(engine, source="calls", counts=[put(3), put(4, day=D2)], at=T0)

    outcome = apply_pushed_counts(engine, source="calls", counts=[put(5)], at=T0)

    assert (outcome.stored, outcome.duplicates) == (1, 0)
    assert outcome.refreshed == (("calls", "calls_held"),)
    assert stored(engine) == {"alice": {D1: 5.0, D2: 4.0}}


def test_add_with_a_repeated_key_counts_once(engine: Engine) -> None:
    first = apply_pushed_counts(engine, source="calls", counts=[add(2, "k1")], at=T0)
    retry = apply_pushed_counts(engine, source="calls", counts=[add(2, "k1")], at=T0)
    other = apply_pushed_counts(engine, source="calls", counts=[add(3, "k2")], at=T0)

    assert (first.stored, first.duplicates) == (1, 0)
    assert (retry.stored, retry.duplicates, retry.refreshed) == (0, 1, ())
    assert (other.stored, other.duplicates) == (1, 0)
    assert stored(engine) == {"alice": {D1: 5.0}}  # 2 + 3, the retry not added


def test_a_key_repeated_inside_one_batch_counts_once(engine: Engine) -> None:
    outcome = apply_pushed_counts(engine, source="calls", counts=[add(1, "k"), add(1, "k"), add(4, "j")], at=T0)

    assert (outcome.stored, outcome.duplicates) == (2, 1)
    assert stored(engine) == {"alice": {D1: 5.0}}


def test_keys_belong_to_their_source(engine: Engine) -> None:
    apply_pushed_counts(engine, source="calls", counts=[add(2, "k1")], at=T0)

    outcome = apply_pushed_counts(engine, source="interviews", counts=[add(7, "k1")], at=T0)

    assert outcome.stored == 1
    assert stored(engine, "interviews") == {"alice": {D1: 7.0}}


def test_items_apply_in_order_within_a_batch(engine: Engine) -> None:
    apply_pushed_counts(engine, source="calls", counts=[put(10), put(10, day=D2)], at=T0)

    apply_pushed_counts(
        engine,
        source="calls",
        # D1: set 5 then add 2 -> 7; D2: add 2 onto the stored 10, then a set overrides it -> 4.
        counts=[put(5), add(2, "a"), add(2, "b", day=D2), put(4, day=D2)],
        at=T0,
    )

    assert stored(engine) == {"alice": {D1: 7.0, D2: 4.0}}


def test_add_builds_on_a_count_stored_by_a_sync(engine: Engine) -> None:
    save_sync(
        engine,
        source="calls",
        metrics=["calls_held"],
        counts=[DailyCount("calls_held", "alice", D1, 10.0)],
        replace_from=D1,
        replace_to=D1,
        cursor_end=T0,
        connector_state={},
        finished_at=T0,
    )

    apply_pushed_counts(engine, source="calls", counts=[add(2.5, "k")], at=T0)

    assert load_pushed_value(engine, source="calls", metric="calls_held", subject="alice", day=D1) == 12.5
    assert load_pushed_value(engine, source="calls", metric="calls_held", subject="bob", day=D1) is None


def test_a_receipt_records_what_its_key_added(engine: Engine) -> None:
    apply_pushed_counts(engine, source="calls", counts=[add(2, "k1", subject="bob", day=D2)], at=T0)

    with engine.connect() as connection:
        rows = connection.execute(select(PUSH_RECEIPTS)).all()

    assert [(r.source, r.key, r.metric, r.subject, r.day, r.value, r.applied_at) for r in rows] == [
        ("calls", "k1", "calls_held", "bob", D2, 2.0, T0)
    ]


def test_a_batch_of_ten_thousand_adds_is_stored_whole(engine: Engine) -> None:
    # More rows than one multi-row INSERT of receipts holds, so the chunks must add up.
    batch = [add(1, f"key-{i}", subject=f"s{i % 3}") for i in range(10_000)]

    outcome = apply_pushed_counts(engine, source="calls", counts=batch, at=T0)

    assert (outcome.stored, outcome.duplicates) == (10_000, 0)
    # 10,000 = 3,334 (i % 3 == 0) + 3,333 + 3,333
    assert stored(engine) == {"s0": {D1: 3334.0}, "s1": {D1: 3333.0}, "s2": {D1: 3333.0}}


def test_an_add_without_a_key_stores_nothing(engine: Engine) -> None:
    keyless = PushedCount(metric="calls_held", subject="alice", day=D1, value=1.0, mode="add")

    with pytest.raises(ValueError, match="item 1: an add needs its idempotency key"):
        apply_pushed_counts(engine, source="calls", counts=[put(3), keyless], at=T0)

    assert stored(engine) == {}


def test_a_naive_instant_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="naive"):
        apply_pushed_counts(engine, source="calls", counts=[put(3)], at=datetime(2026, 3, 10, 12, 0))  # noqa: DTZ001


def test_downgrade_to_0001_drops_only_the_receipts(engine: Engine) -> None:
    assert "push_receipts" in inspect(engine).get_table_names()
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")

    tables = set(inspect(engine).get_table_names())
    assert "push_receipts" not in tables
    assert {"daily_counts", "source_state"} <= tables

    upgrade(engine)
    assert "push_receipts" in inspect(engine).get_table_names()
