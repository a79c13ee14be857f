"""Source leases on PostgreSQL: fair claims, takeover with a new token, fencing inside the writing transaction."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, make_url, select, text
from sqlalchemy.exc import DBAPIError

from connectors.base import DailyCount
from syncd.errors import LeaseLost, StorageError
from syncd.store import create_engine_for, database, load_daily_counts, load_source_states, record_failure, save_sync
from syncd.store.goal_repository import load_goal_versions, record_goal_versions
from syncd.store.leases import Fence, check_fence, claim_leases, release_leases
from syncd.store.models import GOAL_VERSIONS
from tests.faults.fault_proxy import TcpProxy
from tests.processes import wait_until

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=20)
SOURCES = ("a", "b", "c", "d", "e")


def claim(engine: Engine, holder: str, at: datetime, busy: frozenset[str] = frozenset()) -> dict[str, int]:
    return claim_leases(engine, holder=holder, sources=SOURCES, now=at, ttl=TTL, busy=busy).held


def save(engine: Engine, value: float, at: datetime, fence: Fence | None) -> int:
    return save_sync(
        engine,
        source="a",
        metrics=["m"],
        counts=[DailyCount("m", "all", date(2026, 11, 23), value)],
        replace_from=date(2026, 11, 23),
        replace_to=date(2026, 11, 23),
        cursor_end=at,
        connector_state={},
        finished_at=at,
        fence=fence,
    )


def test_one_replica_takes_every_source_then_shares_them_with_a_second(pg_engine: Engine) -> None:
    assert claim(pg_engine, "r1", T0) == {s: 1 for s in SOURCES}
    # r2 arrives: r1 is live, so the share is ceil(5 / 2) = 3; nothing is free yet.
    assert claim(pg_engine, "r2", T0 + timedelta(seconds=1)) == {}
    # r1's next round gives back the two over its share that it is not syncing (e is busy, so it stays).
    kept = claim(pg_engine, "r1", T0 + timedelta(seconds=2), busy=frozenset({"e"}))
    assert kept == {"a": 1, "b": 1, "e": 1}
    taken = claim(pg_engine, "r2", T0 + timedelta(seconds=3))
    # A change of holder bumps the fencing token.
    assert taken == {"c": 2, "d": 2}


def test_a_dead_replicas_leases_move_after_expiry_with_a_new_token(pg_engine: Engine) -> None:
    claim(pg_engine, "r1", T0)
    # Before expiry the sources stay with r1 (r1 still counts as live, so r2's share is 3 but none is free).
    assert claim(pg_engine, "r2", T0 + TTL - timedelta(seconds=1)) == {}
    after = claim(pg_engine, "r2", T0 + TTL + timedelta(seconds=1))
    # r1's heartbeat is older than the lease time: r2 is alone and takes everything.
    assert after == {s: 2 for s in SOURCES}


def test_a_stale_fence_writes_nothing_and_a_held_one_writes(pg_engine: Engine) -> None:
    claim(pg_engine, "r1", T0)
    assert save(pg_engine, 5, T0 + timedelta(seconds=1), Fence("a", "r1", 1)) == 1
    later = T0 + TTL + timedelta(seconds=1)
    assert claim(pg_engine, "r2", later)["a"] == 2

    # r1 wakes up after a long pause: its write and its failure record are both refused.
    with pytest.raises(LeaseLost):
        save(pg_engine, 99, later, Fence("a", "r1", 1))
    with pytest.raises(LeaseLost):
        record_failure(pg_engine, source="a", error="boom", at=later, fence=Fence("a", "r1", 1))
    counts = load_daily_counts(pg_engine, keys=[("a", "m")], first_day=date(2026, 11, 1), last_day=date(2026, 11, 30))
    assert counts[("a", "m")] == {"all": {date(2026, 11, 23): 5.0}}
    assert load_source_states(pg_engine)["a"].consecutive_failures == 0

    assert save(pg_engine, 7, later, Fence("a", "r2", 2)) == 1


def test_an_expired_lease_cannot_write_even_before_anyone_takes_it(pg_engine: Engine) -> None:
    claim(pg_engine, "r1", T0)
    with pytest.raises(LeaseLost, match="expired"):
        save(pg_engine, 5, T0 + TTL + timedelta(seconds=1), Fence("a", "r1", 1))


def test_a_lease_being_written_under_is_skipped_by_a_claimer(pg_engine: Engine) -> None:
    claim(pg_engine, "r1", T0)
    later = T0 + TTL + timedelta(seconds=1)
    # A writer holds the lease row locked (as check_fence does until commit): a claim skips it, never waits.
    with pg_engine.begin() as connection:
        connection.execute(text("SELECT 1 FROM source_leases WHERE source = 'a' FOR UPDATE"))
        taken = claim(pg_engine, "r2", later)
    assert "a" not in taken
    assert set(taken) == {"b", "c", "d", "e"}


def test_a_replica_gone_silent_inside_its_write_frees_the_lease_row_soon(
    pg_engine: Engine, postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server ends a transaction idle for idle_in_transaction_session_timeout (10 s in syncd;
    # 1 s here). Without it a writer frozen between two statements behind a proxy that keeps its TCP
    # connection up holds the lease row (locked by the fence check) until the server's TCP keepalive
    # gives up, two hours by default: no replica could take the source over meanwhile.
    monkeypatch.setitem(database._POSTGRES_SESSION_SETTINGS, "idle_in_transaction_session_timeout", 1000)
    url = make_url(postgres_schema_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    silent = create_engine_for(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    fence = Fence("a", "r1", claim(pg_engine, "r1", T0)["a"])
    locked = threading.Event()

    def write_then_go_silent() -> None:
        with contextlib.suppress(StorageError, DBAPIError), silent.begin() as connection:
            check_fence(connection, fence, T0 + timedelta(seconds=1))
            locked.set()
            proxy.freeze()
            connection.execute(text("SELECT 1"))  # swallowed: the server waits for the next statement

    writer = threading.Thread(target=write_then_go_silent, daemon=True)
    writer.start()
    try:
        assert locked.wait(10)
        later = T0 + TTL + timedelta(seconds=1)
        assert "a" not in claim(pg_engine, "r2", later)  # still locked by the silent writer
        taken = wait_until(lambda: claim(pg_engine, "r2", later).get("a"), timeout=15, what="the lease row freed")
        assert taken == 2
        writer.join(10)
        assert not writer.is_alive()  # the server ended its session: the writer got an error, not a hang
    finally:
        proxy.close()
        silent.dispose()


def test_release_hands_the_sources_over_at_once(pg_engine: Engine) -> None:
    claim(pg_engine, "r1", T0)
    release_leases(pg_engine, holder="r1", now=T0 + timedelta(seconds=1))
    assert claim(pg_engine, "r2", T0 + timedelta(seconds=1)) == {s: 2 for s in SOURCES}


def test_replicas_recording_the_same_goals_at_once_open_one_version_each(pg_engine: Engine) -> None:
    definitions = {f"k{i}|alice|month": (10.0 + i, f'{{"target": {10 + i}}}') for i in range(50)}
    barrier = threading.Barrier(3)
    changes: list[int] = []

    def replica(offset: int) -> None:
        barrier.wait()
        changes.append(record_goal_versions(pg_engine, definitions, T0 + timedelta(milliseconds=offset)))

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(changes) == [0, 0, 50]
    assert len(load_goal_versions(pg_engine)) == 50
    with pg_engine.connect() as connection:
        open_versions = connection.execute(
            select(func.count()).select_from(GOAL_VERSIONS).where(GOAL_VERSIONS.c.effective_to.is_(None))
        ).scalar_one()
    assert open_versions == 50
