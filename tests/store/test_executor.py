"""The database executor: bounded, separate from asyncio's default pool, never blocking exit."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator

import pytest

from syncd.errors import StorageError
from syncd.store import executor as executor_module
from syncd.store.executor import HEALTH, DatabaseExecutor, run_db, run_db_bounded


def db_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("syncd-db-") and t.is_alive()]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()
    HEALTH.record(None)


async def until_busy(pool: DatabaseExecutor, count: int) -> None:
    for _ in range(200):
        if len(pool._busy_since) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the workers never started")


async def test_stuck_workers_are_replaced_up_to_the_cap(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    pool = DatabaseExecutor(2, stall_after=0.0, max_threads=3)
    monkeypatch.setattr(executor_module, "_EXECUTOR", pool)
    before = len(db_threads())
    hung = [asyncio.ensure_future(run_db(release.wait)) for _ in range(2)]
    await until_busy(pool, 2)

    # Both workers are stuck: a replacement serves the next call...
    assert await run_db_bounded(5.0, False, lambda: 42) == 42
    # ...but never more than max_threads, however many calls hang; all are daemon threads.
    more = [asyncio.ensure_future(run_db(release.wait)) for _ in range(5)]
    await asyncio.sleep(0.2)
    assert len(db_threads()) - before <= 3
    assert all(t.daemon for t in db_threads())
    release.set()
    await asyncio.gather(*hung, *more)
    pool.shutdown()


async def test_a_call_past_its_bound_is_a_storage_error_and_the_default_pool_stays_free(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    pool = DatabaseExecutor(1, stall_after=60.0)
    monkeypatch.setattr(executor_module, "_EXECUTOR", pool)
    hung = asyncio.ensure_future(run_db(release.wait))
    await until_busy(pool, 1)

    with pytest.raises(StorageError, match=re.escape("did not answer within 0.2 s")):
        await run_db_bounded(0.2, True, lambda: None)

    assert HEALTH.last_write_ok is False
    # asyncio's default executor (what /metrics renders on) is untouched by the stuck call.
    assert await asyncio.to_thread(lambda: "rendered") == "rendered"
    release.set()
    await hung
    pool.shutdown()


def test_an_idle_worker_holds_neither_its_last_arguments_nor_its_result() -> None:
    # A worker waiting for its next call kept the last one's arguments and result alive: after the
    # daemon stored 45,000 judged check-in results, both copies stayed until the next write.
    import gc
    import weakref

    class Payload:
        pass

    pool = DatabaseExecutor(workers=1, stall_after=60.0, max_threads=2)
    try:
        argument, answer = Payload(), Payload()
        seen = weakref.ref(argument), weakref.ref(answer)
        # The lambda reads `answer` when called, before the del below (ruff sees only the del: F821).
        assert pool.submit(lambda given: (given, answer), argument).result(timeout=10)[0] is argument  # noqa: F821
        del argument, answer
        for _ in range(100):  # the worker drops them right after handing the result over
            gc.collect()
            if seen[0]() is None and seen[1]() is None:
                break
            threading.Event().wait(0.01)
        assert seen[0]() is None
        assert seen[1]() is None
    finally:
        pool.shutdown()
