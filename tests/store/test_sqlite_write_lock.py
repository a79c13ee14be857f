"""SQLite: this process's writers queue on the engine's lock, not on SQLite's sleeping busy handler."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from syncd.store import create_engine_for


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
