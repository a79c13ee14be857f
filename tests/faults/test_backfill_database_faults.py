"""`syncd backfill` against a PostgreSQL that stops answering mid-run (a frozen proxy): it never hangs.

Every database call of a backfill is bounded (the executor's call bound, shortened here so the
test waits seconds, not minutes); a source whose call runs past it fails with the reason, and once
the database has not answered, the sources still waiting for a turn fail at once instead of each
holding a concurrency slot for another bound.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from syncd.config import parse_config
from syncd.run.backfill import Phase, backfill_all
from syncd.store import create_engine_for, upgrade
from syncd.store import executor as executor_module
from tests.count_api import Answer, config_text, count_api
from tests.fakes import FakeClock
from tests.faults.fault_proxy import TcpProxy
from tests.faults.rig import postgres_database

__all__ = ["postgres_database"]

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SINCE = date(2026, 11, 2)
# The executor's bound on one database call, 120 s in production; the calls made before the freeze
# take milliseconds.
CALL_BOUND_S = 3.0
# Turns a hang into a failure; far above what the backfill needs when its calls are bounded.
HANG_GUARD_S = 60.0


@pytest.mark.postgres
async def test_a_database_that_stops_answering_fails_the_backfill_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_database: tuple[str, TcpProxy]
) -> None:
    url, proxy = postgres_database
    # Migrated beforehand, so the backfill's own upgrade finds nothing to do within the short bound.
    engine = create_engine_for(url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setattr(executor_module, "DEFAULT_CALL_TIMEOUT_S", CALL_BOUND_S)

    def freeze_in_second_week(source: str, day: date) -> Answer | None:
        if source == "a" and day == date(2026, 11, 9):
            proxy.freeze()  # a network partition: connections stay open, nothing comes back
        return None

    with count_api() as api:
        api.script = freeze_in_second_week
        text = config_text(api, tmp_path / "unused.db", {"a": None, "b": None, "c": None})
        text = text.replace(f"database_url: sqlite:///{tmp_path / 'unused.db'}", f"database_url: {url}")
        config = parse_config(text, file="test.yaml", environ={})
        async with asyncio.timeout(HANG_GUARD_S):
            report = await backfill_all(
                config, list(config.sources.values()), SINCE, clock=FakeClock(NOW), concurrency=1
            )
        days_read = {name: api.days_read(name) for name in ("a", "b", "c")}

    assert not report.ok  # `syncd backfill` exits 1
    a, b, c = report.tallies
    # a stored its first week; its second could not be stored.
    assert (a.phase, a.weeks_stored) == (Phase.FAILED, 1)
    assert a.describe() == "failed at 2026-11-09: the database did not answer within 3 s"
    # a's chunk found the database silent: b and c, waiting for their turn, are not tried, and say why
    # (before, b waited out a bound of its own first).
    silent = (
        "failed: not tried: the database stopped answering "
        "(cannot store a backfill chunk: the database did not answer within 3 s)"
    )
    assert (b.phase, b.weeks_stored, b.describe()) == (Phase.FAILED, 0, silent)
    assert (c.phase, c.describe()) == (Phase.FAILED, silent)
    assert days_read["b"] == []
    assert days_read["c"] == []
