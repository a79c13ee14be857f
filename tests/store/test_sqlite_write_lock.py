"""SQLite: this process's writers queue on the engine's lock, not on SQLite's sleeping busy handler."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from syncd.errors import StorageError
from syncd.store import create_engine_for, database
from syncd.store.executor import DEFAULT_CALL_TIMEOUT_S, DEFAULT_STALL_AFTER_S


def held_elsewhere(lock: threading.RLock) -> bool:
    """Return whether another thread holds `lock` (a non-blocking try from a fresh thread)."""
    got: list[bool] = []

    def attempt() -> None:
        acquired = lock.acquire(blocking=False)
        got.append(acquired)
        if acquired:
            lock.release()

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    return not got[0]


def test_a_write_transaction_holds_the_lock_and_a_read_does_not(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    lock = engine.syncd_write_lock  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
        assert held_elsewhere(lock)
    assert not held_elsewhere(lock)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        assert not held_elsewhere(lock)
    engine.dispose()


def test_the_lock_is_released_when_the_transaction_fails(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")

    def fail_midway() -> None:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (n INTEGER)"))
            raise RuntimeError("failed midway")

    with pytest.raises(RuntimeError, match="failed midway"):
        fail_midway()
    assert not held_elsewhere(engine.syncd_write_lock)  # type: ignore[attr-defined]
    with engine.connect() as connection:  # rolled back
        assert connection.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 't'")).scalar_one() == 0
    engine.dispose()


def test_writers_in_several_threads_all_commit(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))

    def write(n: int) -> None:
        for _ in range(20):
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 160
    engine.dispose()


class RefusingLock:
    """A write lock another writer of this process never lets go of: every ask times out."""

    def __init__(self) -> None:
        self.asked_timeouts: list[float] = []

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        self.asked_timeouts.append(timeout)
        return False

    def release(self) -> None:
        raise AssertionError("never acquired, so never released")


class SlowLock:
    """The engine's lock, granted after `seconds` of the engine's (fake) monotonic clock."""

    def __init__(self, lock: threading.RLock, clock: list[float], seconds: float) -> None:
        self._lock = lock
        self._clock = clock
        self.seconds = seconds

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        self._clock[0] += self.seconds
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()


def test_a_write_waits_half_the_budget_for_this_process_then_says_the_database_is_locked(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    refusing = RefusingLock()
    engine.syncd_write_lock = refusing  # type: ignore[attr-defined]

    with pytest.raises(StorageError) as caught, engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))

    # A stuck writer thread is named as such at once, not 60 s later by SQLite's busy handler and
    # then again as the executor's "did not answer within 120 s".
    assert refusing.asked_timeouts == [30.0]
    message = str(caught.value)
    assert "database is locked" in message
    assert "held its SQLite write lock for over 30 s" in message
    with engine.connect() as connection:  # nothing ran
        assert connection.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 't'")).scalar_one() == 0
    engine.dispose()


def test_a_stuck_writer_thread_fails_the_next_write_with_a_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "_SQLITE_WRITE_LOCK_WAIT_S", 0.05)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    inside, release = threading.Event(), threading.Event()

    def stuck_writer() -> None:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (n INTEGER)"))
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=stuck_writer)
    thread.start()
    try:
        assert inside.wait(30)
        with pytest.raises(StorageError, match="database is locked"), engine.begin() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        release.set()
        thread.join()
    with engine.begin() as connection:  # the lock is free again once the stuck writer ends
        connection.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()


def test_the_time_queued_in_this_process_comes_off_the_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    clock = [1000.0]
    engine.syncd_monotonic = lambda: clock[0]  # type: ignore[attr-defined]
    slow = SlowLock(engine.syncd_write_lock, clock, 25.4)  # type: ignore[attr-defined]
    engine.syncd_write_lock = slow  # type: ignore[attr-defined]

    def busy_timeout_in_a_write() -> int:
        with engine.begin() as connection:
            value: int = connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
            return value

    # 25 whole seconds behind this process's writers leave 35 s for other processes' writers.
    assert busy_timeout_in_a_write() == 35_000
    # A write that had the lock at once (or within the second) meets the whole 60 s, as before.
    slow.seconds = 0.3
    assert busy_timeout_in_a_write() == 60_000
    engine.dispose()


def test_a_write_waits_well_within_the_executors_call_bound() -> None:
    assert database._SQLITE_WRITE_LOCK_WAIT_S == 30.0
    # The lock wait comes off the busy timeout; whole seconds of it, so under a second more.
    whole_wait_s = database._SQLITE_BUSY_TIMEOUT_MS / 1000 + 1
    # A call may first sit in the executor's queue behind stuck workers, which are replaced after 30 s.
    assert whole_wait_s + DEFAULT_STALL_AFTER_S < DEFAULT_CALL_TIMEOUT_S
