"""The daemon's retention job: what it keeps, the batches it takes, and a sync slipping in between them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import generate_latest
from sqlalchemy import Engine, event, func, insert, select

from connectors.base import DailyCount
from syncd.errors import ConfigError, StorageError
from syncd.model import Config
from syncd.run.daemon import Daemon
from syncd.run.retention import BATCH_PAUSE_SECONDS, EVERY_SECONDS, FIRST_RUN_SECONDS, Pruner, versions_in_use
from syncd.serve.exposition import build_registry
from syncd.store import load_daily_counts, save_sync
from syncd.store.goal_history import goal_key
from syncd.store.models import GOAL_VERSIONS
from syncd.store.push_models import PUSH_RECEIPTS
from tests.fakes import FakeClock, make_config

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
D1 = date(2026, 3, 9)

CONFIG = """
timezone: Europe/London
people:
  alice: {{identities: {{calls: alice}}}}
sources:
  calls: {{connector: push, token: "t0ken-for-the-tests-only"}}
kpis:
  calls: {{source: calls, metric: calls, per_person: true}}
goals:
  - {{kpi: calls, owner: alice, period: month, target: 40}}
  - {{kpi: calls, owner: alice, period: year, target: 400, checkins: month}}
  - {{kpi: calls, owner: alice, period: {{start: 2025-06-01, end: 2026-05-31}}, target: 300}}
{retention}
"""


def config(retention: str = "") -> Config:
    return make_config(CONFIG.format(retention=retention))


def days_ago(days: float) -> datetime:
    return T0 - timedelta(days=days)


def seed_receipts(engine: Engine, count: int, applied_at: datetime, prefix: str) -> None:
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


def seed_versions(engine: Engine, rows: list[tuple[str, float, float | None]]) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(GOAL_VERSIONS),
            [
                {
                    "goal_key": key,
                    "effective_from": days_ago(start),
                    "effective_to": None if end is None else days_ago(end),
                    "target": 1.0,
                    "definition": "{}",
                }
                for key, start, end in rows
            ],
        )


def receipt_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(PUSH_RECEIPTS)).scalar_one())


def version_starts(engine: Engine) -> set[tuple[str, datetime]]:
    with engine.connect() as connection:
        return {(r.goal_key, r.effective_from) for r in connection.execute(select(GOAL_VERSIONS))}


class Pauses:
    """The pruner's wait between batches, recorded instead of slept."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, stop: asyncio.Event, seconds: float) -> bool:
        self.seconds.append(seconds)
        return stop.is_set()


def test_versions_in_use_reach_back_to_the_previous_period_start() -> None:
    running = config()
    month, year, fixed = (goal_key(goal) for goal in running.goals)

    keep_from = versions_in_use(running, T0)

    # London is on GMT until 29 March: February and January start at midnight UTC.
    assert keep_from[month] == datetime(2026, 2, 1, tzinfo=UTC)
    assert keep_from[year] == datetime(2025, 1, 1, tzinfo=UTC)
    # A fixed period has no previous one: its own start, midnight BST.
    assert keep_from[fixed] == datetime(2025, 5, 31, 23, tzinfo=UTC)


async def test_a_round_prunes_both_tables_in_batches_with_a_pause_between(engine: Engine) -> None:
    running = config()
    month, year, _ = (goal_key(goal) for goal in running.goals)
    seed_receipts(engine, 250, days_ago(31), prefix="old")
    seed_receipts(engine, 7, days_ago(29), prefix="new")
    seed_versions(
        engine,
        [
            (month, 900, 400),  # replaced 400 days ago: goes
            (month, 400, None),  # in force: stays
            (year, 900, 450),  # replaced before the previous year began (434 days ago): goes
            (year, 450, 380),  # in force during 2025, which the year's check-ins still judge: stays
            (year, 380, None),
            ("calls|bob|month", 900, 800),  # a goal no longer configured: goes
        ],
    )
    pruner = Pruner(engine, FakeClock(T0), lambda: running, batch_rows=100)
    pauses = Pauses()

    outcome = await pruner.prune(asyncio.Event(), pauses)

    assert (outcome.push_receipts, outcome.goal_versions) == (250, 3)
    assert receipt_count(engine) == 7
    assert version_starts(engine) == {(month, days_ago(400)), (year, days_ago(450)), (year, days_ago(380))}
    # Receipts: batches of 100, 100, 50 with a pause after each full one; versions: one batch.
    assert pauses.seconds == [BATCH_PAUSE_SECONDS, BATCH_PAUSE_SECONDS]
    assert pruner.pruned == {"push_receipts": 250, "goal_versions": 3}


async def test_never_keeps_everything(engine: Engine) -> None:
    running = config("retention: {push_receipts: never, goal_versions: 0}")
    seed_receipts(engine, 5, days_ago(3000), prefix="ancient")
    seed_versions(engine, [("calls|bob|month", 3000, 2900)])
    pruner = Pruner(engine, FakeClock(T0), lambda: running)

    outcome = await pruner.prune(asyncio.Event(), Pauses())

    assert (outcome.push_receipts, outcome.goal_versions) == (0, 0)
    assert receipt_count(engine) == 5
    assert len(version_starts(engine)) == 1


async def test_a_stop_ends_the_round_after_the_batch_in_progress(engine: Engine) -> None:
    running = config()
    seed_receipts(engine, 300, days_ago(31), prefix="old")
    pruner = Pruner(engine, FakeClock(T0), lambda: running, batch_rows=100)
    stop = asyncio.Event()

    async def stop_at_first_pause(_: asyncio.Event, seconds: float) -> bool:
        stop.set()
        return True

    outcome = await pruner.prune(stop, stop_at_first_pause)

    assert outcome.push_receipts == 100
    assert receipt_count(engine) == 200


async def test_the_daemon_prunes_by_its_running_configuration(engine: Engine) -> None:
    seed_receipts(engine, 3, days_ago(10), prefix="week-old")
    daemon = Daemon(config(), engine, clock=FakeClock(T0))
    assert (await daemon.pruner.prune(asyncio.Event(), Pauses())).push_receipts == 0

    # A reload's retention applies from the next round.
    daemon.config = config("retention: {push_receipts: 7d}")
    assert (await daemon.pruner.prune(asyncio.Event(), Pauses())).push_receipts == 3

    # The next evaluation publishes what this process pruned.
    await daemon.evaluate()
    exposition = generate_latest(build_registry(daemon.holder)).decode()
    assert 'syncd_retention_pruned_rows_total{table="push_receipts"} 3.0' in exposition
    assert 'syncd_retention_pruned_rows_total{table="goal_versions"} 0.0' in exposition


class NotingLock:
    """The engine's write lock, calling `on_ask` whenever a thread asks for it."""

    def __init__(self, lock: Any, on_ask: Callable[[], object]) -> None:
        self._lock = lock
        self._on_ask = on_ask

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        self._on_ask()
        return bool(self._lock.acquire(blocking, timeout))

    def release(self) -> None:
        self._lock.release()


def sync_write(engine: Engine) -> None:
    save_sync(
        engine,
        source="calls",
        metrics=["calls"],
        counts=[DailyCount("calls", "alice", D1, 4.0)],
        replace_from=D1,
        replace_to=D1,
        cursor_end=T0,
        connector_state={},
        finished_at=T0,
    )


async def test_a_sync_waits_for_one_batch_at_most(engine: Engine) -> None:
    """A sync that wants to write while the first batch runs commits before the second batch.

    On SQLite it queues behind the batch in progress (on the engine's write lock, which this
    process's writers take before SQLite's) and takes it in the pause; on PostgreSQL it never
    waits for a batch at all (it commits while the first is still open).
    """
    running = config()
    seed_receipts(engine, 250, days_ago(31), prefix="old")
    pruner = Pruner(engine, FakeClock(T0), lambda: running, batch_rows=100)
    commits: list[str] = []
    writers: dict[int, str] = {}
    sync_queued = threading.Event()
    sync_done = threading.Event()
    syncer = threading.Thread(target=lambda: (sync_write(engine), sync_done.set()))
    sqlite = engine.dialect.name == "sqlite"

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if threading.current_thread() is syncer:
            writers[id(conn)] = "sync"
            if statement.startswith("BEGIN IMMEDIATE"):  # SQLite: the sync asks for the write lock
                sync_queued.set()
        elif statement.startswith("DELETE FROM push_receipts"):
            writers[id(conn)] = "prune"
            if not syncer.is_alive() and not sync_done.is_set():
                # Inside the first batch's transaction: the sync starts and asks for the database now.
                syncer.start()
                assert (sync_queued if sqlite else sync_done).wait(30)

    def commit(conn: Any) -> None:
        writer = writers.pop(id(conn), None)
        if writer is not None:
            commits.append(writer)

    def rollback(conn: Any) -> None:
        writers.pop(id(conn), None)

    async def pause(stop: asyncio.Event, seconds: float) -> bool:
        # The real pause is BATCH_PAUSE_SECONDS on the clock; here it lasts until the queued sync
        # is in (bounded, so a pruner that never lets it in fails below rather than hangs).
        await asyncio.to_thread(sync_done.wait, 30)
        return False

    if sqlite:
        engine.syncd_write_lock = NotingLock(  # type: ignore[attr-defined]
            engine.syncd_write_lock,  # type: ignore[attr-defined]
            lambda: threading.current_thread() is syncer and sync_queued.set(),
        )
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    try:
        outcome = await pruner.prune(asyncio.Event(), pause)
        syncer.join(30)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "commit", commit)
        event.remove(engine, "rollback", rollback)

    assert outcome.push_receipts == 250
    expected = ["prune", "sync", "prune", "prune"] if sqlite else ["sync", "prune", "prune", "prune"]
    assert commits == expected
    stored = load_daily_counts(engine, keys=[("calls", "calls")], first_day=D1, last_day=D1)
    assert stored[("calls", "calls")] == {"alice": {D1: 4.0}}


@pytest.mark.parametrize("text", ["12h", "soon", "-1d", "null", "true"])
def test_a_bad_retention_age_is_one_clear_line(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(f"retention: {{push_receipts: {text}}}")

    problems = [str(problem) for problem in caught.value.problems]
    assert len(problems) == 1
    assert problems[0].startswith("test.yaml: retention.push_receipts: ")
    assert "never" in problems[0]


async def test_the_job_runs_soon_after_start_then_hourly_and_outlives_a_failed_round(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    running = config()
    seed_receipts(engine, 2, days_ago(31), prefix="old")
    pruner = Pruner(engine, FakeClock(T0), lambda: running)
    rounds: list[int] = []
    real_prune = pruner.prune

    async def prune_or_fail(stop: asyncio.Event, wait: Any) -> Any:
        if not rounds:
            rounds.append(0)
            raise StorageError("cannot prune push receipts: the database is locked")
        outcome = await real_prune(stop, wait)
        rounds.append(outcome.push_receipts)
        return outcome

    pruner.prune = prune_or_fail  # type: ignore[method-assign]
    delays: list[float] = []

    async def wait(stop: asyncio.Event, seconds: float) -> bool:
        delays.append(seconds)
        return len(delays) > 3

    await pruner.run(asyncio.Event(), wait)

    assert delays == [FIRST_RUN_SECONDS, EVERY_SECONDS, EVERY_SECONDS, EVERY_SECONDS]
    assert rounds == [0, 2, 0]
    assert "pruning stopped until the next round: cannot prune push receipts" in caplog.text
