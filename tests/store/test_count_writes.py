"""Driver-level count writes store exactly what SQLAlchemy's own statements would, by executemany and by COPY."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import DBAPIError

from connectors.base import DailyCount
from syncd.errors import StorageDataError
from syncd.store import count_writes, load_daily_counts, save_sync
from syncd.store.count_writes import CountKey, delete_counts, upsert_counts
from syncd.store.models import DAILY_COUNTS

# Whole seconds and a non-UTC offset: SQLAlchemy writes "12:00:05.000000" in UTC, sqlite3's own adapter
# would write "12:00:05" and keep the offset.
T0 = datetime(2026, 3, 10, 14, 0, 5, tzinfo=timezone(timedelta(hours=2)))
T1 = datetime(2026, 3, 11, 9, 30, tzinfo=UTC)
D = date(2026, 3, 1)


def counts(subjects: int, days: int, value: float = 1.5) -> dict[CountKey, float]:
    return {
        ("emails_sent", f"user{s}@acme.io", D + timedelta(days=d)): value + s + d
        for s in range(subjects)
        for d in range(days)
    }


def raw_rows(engine: Engine, source: str) -> list[tuple[Any, ...]]:
    # As the driver returns them (text on SQLite): what is stored, not what SQLAlchemy parses back.
    marker = "?" if engine.dialect.name == "sqlite" else "%s"
    with engine.connect() as connection:
        result = connection.exec_driver_sql(
            "SELECT metric, subject, day, value, updated_at FROM daily_counts "  # noqa: S608 - a marker only
            f"WHERE source = {marker} ORDER BY metric, subject, day",
            (source,),
        )
        return [tuple(row) for row in result]


@pytest.fixture(params=["executemany", "copy"])
def write_path(request: pytest.FixtureRequest, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test through executemany, and on PostgreSQL through COPY as well (from one row on), in batches of 5."""
    monkeypatch.setattr(count_writes, "_BATCH_ROWS", 5)
    if request.param == "copy":
        # COPY on SQLite is left out at collection (tests/store/conftest.py), not skipped.
        assert engine.dialect.name == "postgresql"
        monkeypatch.setattr(count_writes, "COPY_FROM_ROWS", 1)
    else:
        monkeypatch.setattr(count_writes, "COPY_FROM_ROWS", 10**9)
    return str(request.param)


def test_rows_are_stored_as_sqlalchemys_own_insert_stores_them(engine: Engine, write_path: str) -> None:
    incoming = counts(3, 4)
    with engine.begin() as connection:
        connection.execute(
            insert(DAILY_COUNTS),
            [
                {"source": "core", "metric": m, "subject": s, "day": d, "value": v, "updated_at": T0}
                for (m, s, d), v in incoming.items()
            ],
        )
        upsert_counts(connection, "driver", incoming, T0)
    stored = raw_rows(engine, "driver")
    assert len(stored) == 12
    assert stored == raw_rows(engine, "core")


def test_an_upsert_updates_changed_values_only_and_keeps_the_rest_untouched(engine: Engine, write_path: str) -> None:
    first = counts(2, 3)
    with engine.begin() as connection:
        upsert_counts(connection, "lemlist", first, T0)
    changed_key = ("emails_sent", "user1@acme.io", D + timedelta(days=2))
    new_key = ("emails_sent", "user2@acme.io", D)
    second = {**first, changed_key: 40.0, new_key: 2.0}
    with engine.begin() as connection:
        upsert_counts(connection, "lemlist", second, T1)

    stored = {(row.metric, row.subject, row.day): (row.value, row.updated_at) for row in _typed_rows(engine)}
    assert len(stored) == 7
    assert stored[changed_key] == (40.0, T1)
    assert stored[new_key] == (2.0, T1)
    unchanged = [key for key in first if key != changed_key]
    assert all(stored[key] == (first[key], T0.astimezone(UTC)) for key in unchanged)


def test_delete_removes_exactly_the_given_keys(engine: Engine) -> None:
    incoming = counts(2, 3)
    with engine.begin() as connection:
        upsert_counts(connection, "lemlist", incoming, T0)
        upsert_counts(connection, "other", incoming, T0)
    gone = [("emails_sent", "user0@acme.io", D), ("emails_sent", "user1@acme.io", D + timedelta(days=2))]
    with engine.begin() as connection:
        delete_counts(connection, "lemlist", gone)

    left = {(row.metric, row.subject, row.day) for row in _typed_rows(engine)}
    assert left == set(incoming) - set(gone)
    assert len(raw_rows(engine, "other")) == 6


def test_save_sync_takes_the_same_path_to_the_same_counts(engine: Engine, write_path: str) -> None:
    rows = [DailyCount(m, s, d, v) for (m, s, d), v in counts(4, 5).items()]
    changed = save_sync(
        engine,
        source="lemlist",
        metrics=["emails_sent"],
        counts=rows,
        replace_from=D,
        replace_to=D + timedelta(days=4),
        cursor_end=T0,
        connector_state={},
        finished_at=T0,
    )
    assert changed == 20
    loaded = load_daily_counts(engine, keys=[("lemlist", "emails_sent")], first_day=D, last_day=D + timedelta(days=9))
    assert loaded[("lemlist", "emails_sent")]["user3@acme.io"] == {D + timedelta(days=d): 4.5 + d for d in range(5)}


@pytest.mark.postgres
@pytest.mark.copy_only
def test_a_nul_refused_inside_copy_is_a_data_error_and_stores_nothing(engine: Engine, write_path: str) -> None:
    assert (engine.dialect.name, write_path) == ("postgresql", "copy")
    rows = [DailyCount("emails_sent", "alice", D, 1.0), DailyCount("emails_sent", "ali\x00ce", D, 1.0)]
    with pytest.raises(StorageDataError, match="cannot save the sync of lemlist"):
        save_sync(
            engine,
            source="lemlist",
            metrics=["emails_sent"],
            counts=rows,
            replace_from=D,
            replace_to=D,
            cursor_end=T0,
            connector_state={},
            finished_at=T0,
        )
    assert raw_rows(engine, "lemlist") == []


def _typed_rows(engine: Engine) -> list[Any]:
    table = DAILY_COUNTS
    with engine.connect() as connection:
        return list(connection.execute(table.select().where(table.c.source == "lemlist")))


@pytest.mark.postgres
@pytest.mark.copy_only
def test_two_copies_in_one_transaction_each_store_their_rows(engine: Engine, write_path: str) -> None:
    assert (engine.dialect.name, write_path) == ("postgresql", "copy")
    first = counts(3, 4)  # 12 rows: three batches of 5
    # Half the keys again with new values, and new ones: a row of the first COPY merged twice
    # would fail ("cannot affect row a second time") or bring back a first value.
    second = {key: value + 100 for key, value in counts(5, 2).items()}
    with engine.begin() as connection:
        upsert_counts(connection, "lemlist", first, T0)
        upsert_counts(connection, "lemlist", second, T1)
    stored = {(row.metric, row.subject, row.day): row.value for row in _typed_rows(engine)}
    assert stored == {**first, **second}


@pytest.mark.postgres
@pytest.mark.copy_only
def test_a_copy_after_one_rolled_back_to_a_savepoint_stores_only_its_rows(engine: Engine, write_path: str) -> None:
    assert (engine.dialect.name, write_path) == ("postgresql", "copy")
    first = counts(1, 3)
    refused = {**counts(2, 4, value=50.0), ("emails_sent", "ali\x00ce", D): 1.0}  # NUL: refused in its last batch
    third = {("emails_sent", "carol@acme.io", D): 7.0}
    with engine.begin() as connection:
        upsert_counts(connection, "lemlist", first, T0)
        savepoint = connection.begin_nested()
        with pytest.raises(DBAPIError):
            upsert_counts(connection, "lemlist", refused, T0)
        savepoint.rollback()
        upsert_counts(connection, "lemlist", third, T1)
    stored = {(row.metric, row.subject, row.day): row.value for row in _typed_rows(engine)}
    assert stored == {**first, **third}
