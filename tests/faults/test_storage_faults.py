"""A full disk: every write fails while SELECT 1 works; /readyz must say so, and recover after."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, func, select

from syncd.run.daemon import Daemon
from syncd.sandbox.activity import ExplicitActivity, make_lemlist_activity
from syncd.sandbox.server import Sandbox
from syncd.serve.web import build_app
from syncd.store import create_engine_for, upgrade
from syncd.store.models import DAILY_COUNTS
from tests.fakes import FakeClock, make_config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SENDERS = 300  # enough rows to need new pages, which a full disk refuses

CONFIG = """
timezone: Europe/London
teams: {{growth: {{}}}}
people:
  alice: {{team: growth}}
sources:
  lemlist: {{connector: lemlist, api_key: "{key}", base_url: "{url}", interval: 1m}}
kpis:
  emails: {{source: lemlist, metric: emails_sent}}
goals:
  - {{kpi: emails, owner: growth, period: month, target: 400}}
"""


async def test_readyz_is_false_while_writes_fail_with_disk_full(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'full.db'}")
    upgrade(engine)
    emails = [
        make_lemlist_activity("emailsSent", NOW - timedelta(hours=2), f"sender{n}@acme.io", n=n) for n in range(SENDERS)
    ]
    sandbox = Sandbox(clock=clock, activity=ExplicitActivity(lemlist=emails, kit=[]))
    await sandbox.start()
    config = make_config(CONFIG.format(key=sandbox.lemlist_api_key, url=sandbox.lemlist_url))
    daemon = Daemon(config, engine, clock=clock)
    await daemon.evaluate()

    def full_disk(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # The file may not grow past its current size: what a full filesystem does to SQLite.
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(engine, "connect", full_disk)
    engine.dispose()
    client = TestClient(TestServer(build_app(daemon.web_state)))
    await client.start_server()
    try:
        assert (await client.get("/readyz")).status == 200
        failed = await daemon.sync_once(config.sources["lemlist"])
        assert (failed.ok, failed.reason) == (False, "storage")
        assert "full" in (failed.error or "")

        readyz = await client.get("/readyz")
        assert readyz.status == 503
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/metrics")).status == 200

        # Room again: the next sync writes, and the daemon is ready without a restart.
        event.remove(engine, "connect", full_disk)
        engine.dispose()
        synced = await daemon.sync_once(config.sources["lemlist"])
        assert synced.ok, synced.error
        assert (await client.get("/readyz")).status == 200
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(DAILY_COUNTS)).scalar_one() == SENDERS
    finally:
        await client.close()
        await daemon.connectors.aclose()
        await sandbox.stop()
        engine.dispose()
