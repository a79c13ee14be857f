"""SQLite commits: a sync's durable against a crash of the process, a push's against a power loss too.

WAL with synchronous NORMAL puts a commit in the WAL file without an fsync: the process may die
right after and the commit is there (tested below with SIGKILL); a power loss may take the last
few, which a sync reads again from its vendor. A push is acknowledged to a client that will not
send it again, so its transaction commits with synchronous FULL.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, event

from connectors.base import DailyCount
from syncd.store import create_engine_for, load_daily_counts, save_sync, upgrade
from syncd.store.push_repository import PushedCount, apply_pushed_counts

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = date(2026, 11, 23)
FULL, NORMAL = 2, 1  # PRAGMA synchronous's answers


@contextmanager
def synchronous_at_commit(engine: Engine) -> Iterator[list[int]]:
    """Collect each committing transaction's `synchronous` setting."""
    seen: list[int] = []

    def note(connection: Connection) -> None:
        seen.append(connection.exec_driver_sql("PRAGMA synchronous").scalar_one())

    event.listen(engine, "commit", note)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", note)


def sync(engine: Engine, value: float) -> None:
    save_sync(
        engine,
        source="lemlist",
        metrics=["emails_sent"],
        counts=[DailyCount("emails_sent", "alice@acme.io", DAY, value)],
        replace_from=DAY,
        replace_to=DAY,
        cursor_end=AT,
        connector_state={},
        finished_at=AT,
    )


def test_a_push_commits_full_and_a_sync_normal(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    with synchronous_at_commit(engine) as seen:
        sync(engine, 1.0)
        apply_pushed_counts(
            engine, source="calls", counts=[PushedCount("calls_held", "alice", DAY, 2.0, "add", "k1")], at=AT
        )
        sync(engine, 3.0)  # the pooled connection the push used is back to NORMAL
    assert seen == [NORMAL, FULL, NORMAL]
    engine.dispose()


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import UTC, date, datetime
    from connectors.base import DailyCount
    from syncd.store import create_engine_for, save_sync, upgrade

    engine = create_engine_for(sys.argv[1])
    upgrade(engine)
    day, at = date(2026, 11, 23), datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    save_sync(
        engine, source="lemlist", metrics=["emails_sent"],
        counts=[DailyCount("emails_sent", "alice@acme.io", day, 7.0)],
        replace_from=day, replace_to=day, cursor_end=at, connector_state={}, finished_at=at,
    )
    print("stored", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no checkpoint, no close: the commit is only in the WAL
    """
)


def test_a_sync_stored_survives_the_process_killed_right_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    child = subprocess.run([sys.executable, "-c", CHILD, url], capture_output=True, text=True, timeout=120)
    assert child.stdout == "stored\n", child.stderr
    assert child.returncode == -9
    engine = create_engine_for(url)
    key = ("lemlist", "emails_sent")
    assert load_daily_counts(engine, keys=[key], first_day=DAY, last_day=DAY)[key] == {"alice@acme.io": {DAY: 7.0}}
    engine.dispose()
