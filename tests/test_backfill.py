"""Backfill: week-long chunks into storage, resumable, within history limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import syncd.run.backfill as backfill
from syncd.engine.evaluate import owner_daily_counts
from syncd.sandbox.activity import ExplicitActivity, make_lemlist_activity
from syncd.sandbox.server import Sandbox
from syncd.store import create_engine_for, load_daily_counts, upgrade
from syncd.store.backfill_repository import backfill_done_through, save_backfill_progress
from tests.fakes import FakeClock, make_config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SINCE = date(2026, 10, 1)
LONDON = ZoneInfo("Europe/London")

CONFIG = """
timezone: Europe/London
people: {{alice: {{identities: {{lemlist: alice@acme.io}}}}}}
sources:
  lemlist: {{connector: lemlist, api_key: "{key}", base_url: "{url}"}}
  x: {{connector: x, api_key: "x-token-123456"}}
kpis: {{emails: {{source: lemlist, metric: emails_sent, per_person: true}}}}
goals: [{{kpi: emails, owner: alice, period: month, target: 100}}]
"""


def activity() -> ExplicitActivity:
    # One email a day at 23:30 London time from 1 October: 54 days through 23 November.
    emails = []
    for n in range(54):
        day = SINCE + timedelta(days=n)
        at = datetime(day.year, day.month, day.day, 23, 30, tzinfo=LONDON)
        if at < NOW:
            emails.append(make_lemlist_activity("emailsSent", at, "alice@acme.io", n=n + 1))
    return ExplicitActivity(lemlist=emails)


def test_chunks_are_weeks_and_respect_history_limits():
    config = make_config(CONFIG.format(key="k" * 20, url="http://127.0.0.1:9/api"))
    clock = FakeClock(NOW)
    windows, notes = backfill.plan_chunks(config, config.sources["lemlist"], SINCE, clock)
    # 1 Oct .. 23 Nov is 54 days: 7 whole weeks and a last chunk of 5 days ending now.
    assert len(windows) == 8
    assert windows[0].start == datetime(2026, 10, 1, tzinfo=LONDON)
    assert windows[1].start == datetime(2026, 10, 8, tzinfo=LONDON)
    assert windows[-1].end == NOW
    assert notes == []
    x_windows, x_notes = backfill.plan_chunks(config, config.sources["x"], SINCE, clock)
    assert x_windows[0].first_day == date(2026, 10, 25)  # 30 days of X history: from the day after 24 Oct
    assert "keeps only 30 days of history" in x_notes[0]


async def test_backfill_stores_history_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    clock = FakeClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'b.db'}")
    upgrade(engine)
    async with Sandbox(clock=clock, activity=activity()) as sandbox:
        config = make_config(CONFIG.format(key=sandbox.lemlist_api_key, url=sandbox.lemlist_url))
        source = config.sources["lemlist"]
        # A previous run stored the first three weeks and was interrupted.
        save_backfill_progress(engine, "lemlist", SINCE, date(2026, 10, 21), NOW)
        read: list[date] = []
        original = backfill.sync_window

        async def recording(*args, **kwargs):
            read.append(args[5].first_day)
            return await original(*args, **kwargs)

        monkeypatch.setattr(backfill, "sync_window", recording)
        assert await backfill.backfill_source(config, source, SINCE, engine, clock)
        assert read == [
            date(2026, 10, 22),
            date(2026, 10, 29),
            date(2026, 11, 5),
            date(2026, 11, 12),
            date(2026, 11, 19),
        ]
        # The last chunk ended at now, so today stays to be read again.
        assert backfill_done_through(engine, "lemlist", SINCE) == date(2026, 11, 22)

        read.clear()
        save_backfill_progress(engine, "lemlist", SINCE, date(2026, 9, 30), NOW)  # as if nothing were stored
        assert await backfill.backfill_source(config, source, SINCE, engine, clock)
        assert len(read) == 8
    counts = load_daily_counts(engine, keys=[("lemlist", "emails_sent")], first_day=SINCE, last_day=date(2026, 11, 30))
    daily = owner_daily_counts(counts[("lemlist", "emails_sent")], None)
    # One email on each London day, 23:30 local: BST until 25 Oct puts it at 22:30 UTC, same day.
    assert daily == {SINCE + timedelta(days=n): 1.0 for n in range(53)}
    engine.dispose()
