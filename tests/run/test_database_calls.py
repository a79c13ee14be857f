"""A batch job's database calls: named when they time out, not tried once the database is silent."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from syncd.errors import StorageError, StorageTimeout
from syncd.run.database_calls import DatabaseCalls
from syncd.store import executor as executor_module


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()
    executor_module.HEALTH.record(None)


async def test_a_refused_call_fails_alone_and_a_silent_one_stops_the_rest(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    monkeypatch.setattr(executor_module, "DEFAULT_CALL_TIMEOUT_S", 0.2)
    calls = DatabaseCalls()
    ran: list[str] = []

    def refused() -> None:
        ran.append("refused")
        raise StorageError("cannot save backfill progress at sqlite:///x.db: database is locked")

    def answered() -> int:
        ran.append("answered")
        return 7

    with pytest.raises(StorageError, match="database is locked"):
        await calls.write("save backfill progress", refused)
    # A refusal is the database answering: the next call is tried.
    assert await calls.read("read backfill progress", answered) == 7

    with pytest.raises(StorageTimeout) as silent:
        await calls.read("read backfill progress", release.wait)
    assert str(silent.value) == "cannot read backfill progress: the database did not answer within 0.2 s"
    with pytest.raises(StorageTimeout) as skipped:
        await calls.write("save backfill progress", answered)
    assert str(skipped.value) == (
        "not tried: the database stopped answering "
        "(cannot read backfill progress: the database did not answer within 0.2 s)"
    )
    assert ran == ["refused", "answered"]
