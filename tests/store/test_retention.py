"""Retention on SQLite and PostgreSQL: old receipts and replaced goal versions go, in bounded batches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select, update
from sqlalchemy.exc import OperationalError

from syncd.store import load_daily_counts
from syncd.store.models import GOAL_VERSIONS
from syncd.store.push_models import PUSH_RECEIPTS
from syncd.store.push_repository import PushedCount, apply_pushed_counts
from syncd.store.retention import prune_goal_versions, prune_push_receipts

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
D1 = date(2026, 1, 20)
MONTH = timedelta(days=30)


def days_ago(days: float) -> datetime:
    return T0 - timedelta(days=days)


def add(value: float, key: str) -> PushedCount:
    return PushedCount(metric="calls", subject="alice", day=D1, value=value, mode="add", key=key)


def seed_receipts(engine: Engine, count: int, applied_at: datetime, prefix: str = "r") -> None:
    rows = [
        {
            "source": "calls",
            "key": f"{prefix}{i:05d}",
            "metric": "calls",
            "subject": "alice",
            "day": D1,
            "value": 1.0,
            "applied_at": applied_at,
        }
        for i in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(PUSH_RECEIPTS), rows)


def receipt_keys(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(PUSH_RECEIPTS.c.key)).scalars())


def receipt_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(PUSH_RECEIPTS)).scalar_one())


def calls(engine: Engine) -> dict[date, float]:
    counts = load_daily_counts(engine, keys=[("calls", "calls")], first_day=D1, last_day=D1)
    return dict(counts[("calls", "calls")]["alice"])


def test_old_receipts_go_young_ones_stay_and_the_counts_do_not_move(engine: Engine) -> None:
    apply_pushed_counts(engine, source="calls", counts=[add(2, "old")], at=days_ago(40))
    apply_pushed_counts(engine, source="calls", counts=[add(3, "young")], at=days_ago(1))
    assert calls(engine) == {D1: 5.0}

    assert prune_push_receipts(engine, older_than=T0 - MONTH) == 1
    assert prune_push_receipts(engine, older_than=T0 - MONTH) == 0

    assert receipt_keys(engine) == {"young"}
    assert calls(engine) == {D1: 5.0}
    # Within the window a retry is still a duplicate ...
    retry = apply_pushed_counts(engine, source="calls", counts=[add(3, "young")], at=T0)
    assert (retry.stored, retry.duplicates) == (0, 1)
    # ... past it the key is forgotten: the window the configuration promises, no longer.
    late = apply_pushed_counts(engine, source="calls", counts=[add(2, "old")], at=T0)
    assert (late.stored, late.duplicates) == (1, 0)
    assert calls(engine) == {D1: 7.0}


@pytest.fixture
def transactions(engine: Engine) -> Iterator[list[list[int]]]:
    """Record, per committed transaction that deleted, the rows each of its DELETE statements removed."""
    done: list[list[int]] = []
    open_deletes: dict[int, list[int]] = {}

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            open_deletes.setdefault(id(conn), []).append(cursor.rowcount)

    def commit(conn: Any) -> None:
        deletes = open_deletes.pop(id(conn), None)
        if deletes is not None:
            done.append(deletes)

    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "commit", commit)
    try:
        yield done
    finally:
        event.remove(engine, "after_cursor_execute", after)
        event.remove(engine, "commit", commit)


def test_each_batch_is_its_own_transaction_of_at_most_the_limit(engine: Engine, transactions: list[list[int]]) -> None:
    seed_receipts(engine, 2_500, days_ago(40), prefix="old")
    seed_receipts(engine, 10, days_ago(2), prefix="new")

    deleted = [prune_push_receipts(engine, older_than=T0 - MONTH, limit=1_000) for _ in range(4)]

    assert deleted == [1_000, 1_000, 500, 0]
    # One committed transaction per call, each one DELETE statement of at most the limit.
    assert transactions == [[1_000], [1_000], [500], [0]]
    assert receipt_keys(engine) == {f"new{i:05d}" for i in range(10)}


def test_the_oldest_receipts_go_first(engine: Engine) -> None:
    seed_receipts(engine, 3, days_ago(90), prefix="oldest")
    seed_receipts(engine, 3, days_ago(60), prefix="older")

    assert prune_push_receipts(engine, older_than=T0 - MONTH, limit=3) == 3

    assert receipt_keys(engine) == {f"older{i:05d}" for i in range(3)}


def test_pruners_running_at_once_delete_each_receipt_once(engine: Engine) -> None:
    seed_receipts(engine, 3_000, days_ago(40))

    def prune_until_done() -> int:
        total = 0
        while deleted := prune_push_receipts(engine, older_than=T0 - MONTH, limit=250):
            total += deleted
        return total

    totals, errors = run_in_threads(prune_until_done, 3)
    assert errors == []
    assert sum(totals) == 3_000
    assert receipt_count(engine) == 0


def version(key: str, start_days_ago: float, end_days_ago: float | None) -> dict[str, object]:
    return {
        "goal_key": key,
        "effective_from": days_ago(start_days_ago),
        "effective_to": None if end_days_ago is None else days_ago(end_days_ago),
        "target": 10.0,
        "definition": "{}",
    }


def seed_versions(engine: Engine, rows: list[dict[str, object]]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(GOAL_VERSIONS), rows)


def versions(engine: Engine) -> set[tuple[str, datetime]]:
    with engine.connect() as connection:
        return {(r.goal_key, r.effective_from) for r in connection.execute(select(GOAL_VERSIONS))}


def test_replaced_versions_go_after_their_age_and_the_one_in_force_stays(engine: Engine) -> None:
    seed_versions(
        engine,
        [
            # A month goal renegotiated twice: the first version was replaced 400 days ago.
            version("m|alice|month", 500, 400),
            version("m|alice|month", 400, 10),
            version("m|alice|month", 10, None),
            # A goal in force for two years and never changed: old, but in force.
            version("m|bob|month", 800, None),
            # A goal removed from the configuration 500 days ago: its history goes entirely.
            version("m|gone|month", 900, 700),
            version("m|gone|month", 700, 500),
        ],
    )

    batch = prune_goal_versions(engine, older_than=T0 - timedelta(days=365), keep_from={})

    assert (batch.deleted, batch.after) == (3, None)
    assert versions(engine) == {
        ("m|alice|month", days_ago(400)),
        ("m|alice|month", days_ago(10)),
        ("m|bob|month", days_ago(800)),
    }


def test_versions_check_ins_still_read_and_other_shards_goals_stay(engine: Engine) -> None:
    seed_versions(
        engine,
        [
            # A year goal: its previous period started 420 days ago; its check-ins read the
            # versions in force since then, however long ago they were replaced.
            version("m|carol|year", 600, 450),
            version("m|carol|year", 450, 400),
            version("m|carol|year", 400, None),
            version("m|dan|month", 600, 450),  # another shard's goal
        ],
    )

    batch = prune_goal_versions(
        engine,
        older_than=T0 - timedelta(days=365),
        keep_from={"m|carol|year": days_ago(420)},
        owns=lambda key: key != "m|dan|month",
    )

    assert batch.deleted == 1
    assert versions(engine) == {
        ("m|carol|year", days_ago(450)),  # in force 450 -> 400 days ago: inside the previous period
        ("m|carol|year", days_ago(400)),
        ("m|dan|month", days_ago(600)),
    }


def test_version_batches_walk_the_table_once_by_primary_key(engine: Engine, transactions: list[list[int]]) -> None:
    rows = [version(f"m|p{i:02d}|month", 600, 500) for i in range(7)]
    rows += [version("m|p03|month", 500, None)]
    seed_versions(engine, rows)
    keep = {"m|p01|month": days_ago(550), "m|p04|month": days_ago(550)}  # still read: kept, passed over

    batches = []
    after = None
    while True:
        batch = prune_goal_versions(engine, older_than=T0 - timedelta(days=365), keep_from=keep, after=after, limit=3)
        batches.append(batch.deleted)
        after = batch.after
        if after is None:
            break

    # 7 candidates, 3 at a time: two full batches and a last one of 1; each kept row looked at once.
    assert batches == [2, 2, 1]
    assert transactions == [[2], [2], [1]]
    assert versions(engine) == {
        ("m|p01|month", days_ago(600)),
        ("m|p04|month", days_ago(600)),
        ("m|p03|month", days_ago(500)),
    }


def test_a_naive_instant_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="naive"):
        prune_push_receipts(engine, older_than=datetime(2026, 1, 1))  # noqa: DTZ001 - the naive value under test
    with pytest.raises(ValueError, match="naive"):
        prune_goal_versions(engine, older_than=datetime(2026, 1, 1), keep_from={})  # noqa: DTZ001


def lock_now(engine: Engine, key: str, start: datetime) -> str:
    """From another connection, update one version at once if its row is free; say what happened."""
    with engine.begin() as connection:
        try:
            connection.execute(
                select(GOAL_VERSIONS.c.goal_key)
                .where(GOAL_VERSIONS.c.goal_key == key, GOAL_VERSIONS.c.effective_from == start)
                .with_for_update(nowait=True)
            )
        except OperationalError:
            return "blocked"  # lock_not_available: the writer would have waited for the batch
        connection.execute(
            update(GOAL_VERSIONS)
            .where(GOAL_VERSIONS.c.goal_key == key, GOAL_VERSIONS.c.effective_from == start)
            .values(definition='{"note": "edited"}')
        )
        return "updated"


@pytest.mark.postgres
def test_a_pruning_batch_locks_only_the_versions_it_deletes(pg_engine: Engine) -> None:
    seed_versions(
        pg_engine,
        [
            version("m|carol|year", 600, 450),  # read by check-ins: kept
            version("m|carol|year", 450, None),
            version("m|dan|month", 600, 450),  # another shard's goal: kept
            version("m|erin|month", 600, 450),  # deleted
            version("m|erin|month", 450, None),
        ],
    )
    seen: dict[str, str] = {}

    def inside_the_batch(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        # The batch has deleted and not committed: every lock it takes is held now.
        if statement.lstrip().upper().startswith("DELETE FROM GOAL_VERSIONS") and not seen:
            seen["kept, read by check-ins"] = lock_now(pg_engine, "m|carol|year", days_ago(600))
            seen["kept, another shard's"] = lock_now(pg_engine, "m|dan|month", days_ago(600))
            seen["deleted"] = lock_now(pg_engine, "m|erin|month", days_ago(600))

    event.listen(pg_engine, "after_cursor_execute", inside_the_batch)
    try:
        batch = prune_goal_versions(
            pg_engine,
            older_than=T0 - timedelta(days=365),
            keep_from={"m|carol|year": days_ago(500)},
            owns=lambda key: key != "m|dan|month",
        )
    finally:
        event.remove(pg_engine, "after_cursor_execute", inside_the_batch)

    assert batch.deleted == 1
    # A writer waits for the batch only on a row the batch deletes.
    assert seen == {"kept, read by check-ins": "updated", "kept, another shard's": "updated", "deleted": "blocked"}
    assert ("m|erin|month", days_ago(600)) not in versions(pg_engine)


def test_pruners_running_at_once_delete_each_version_once(engine: Engine) -> None:
    rows = [version(f"m|p{i:03d}|month", 600, 500) for i in range(300)]
    seed_versions(engine, rows)
    keep = {f"m|p{i:03d}|month": days_ago(550) for i in range(0, 300, 10)}  # 30 kept

    def prune_until_done() -> int:
        total, after = 0, None
        while True:
            batch = prune_goal_versions(
                engine, older_than=T0 - timedelta(days=365), keep_from=keep, after=after, limit=25
            )
            total += batch.deleted
            if (after := batch.after) is None:
                return total

    totals, errors = run_in_threads(prune_until_done, 3)
    assert errors == []
    assert sum(totals) == 270
    assert versions(engine) == {(key, days_ago(600)) for key in keep}


def run_in_threads(work: Callable[[], int], count: int) -> tuple[list[int], list[BaseException]]:
    """Run `work` on `count` threads at once; return what each returned, and what any raised."""
    totals: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            totals.append(work())
        except BaseException as exc:  # returned to the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return totals, errors
