"""Backfill: week-long chunks into storage, resumable, within history limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

import syncd.run.backfill as backfill
from syncd.engine.evaluate import owner_daily_counts
from syncd.run.source_stats import SourceStats
from syncd.run.sync import SyncOutcome, sync_source
from syncd.sandbox.activity import ExplicitActivity, make_lemlist_activity
from syncd.sandbox.server import Sandbox
from syncd.store import create_engine_for, load_daily_counts, load_source_states, upgrade
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


MAILSHAKE_CONFIG = """
timezone: Europe/London
people: {alice: {identities: {mailshake: alice@acme.io}}}
sources:
  mailshake: {connector: mailshake, api_key: "mailshake-test-key-0123456789", base_url: "http://127.0.0.1:9/ms"}
kpis: {emails: {source: mailshake, metric: emails_sent, per_person: true}}
goals: [{kpi: emails, owner: alice, period: month, target: 100}]
"""


def _mailshake_stamp(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.000Z"


async def test_a_feed_without_date_filter_is_read_once_for_the_whole_range(tmp_path: Path):
    # Mailshake's feeds have no date filter: each read starts at the newest item. One sent email a
    # day at noon UTC from 1 October, newest first, on one page; no replies.
    sent = [
        {
            "id": n,
            "actionDate": _mailshake_stamp(datetime(2026, 10, 1, 12, tzinfo=UTC) + timedelta(days=n)),
            "from": {"address": "alice@acme.io"},
            "to": [],
        }
        for n in range(53)
    ]
    sent.reverse()
    clock = FakeClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    config = make_config(MAILSHAKE_CONFIG)
    with respx.mock(assert_all_called=False) as router:
        sent_route = router.get("http://127.0.0.1:9/ms/activity/sent").mock(
            return_value=httpx.Response(200, json={"nextToken": "", "results": sent})
        )
        replies_route = router.get("http://127.0.0.1:9/ms/activity/replies").mock(
            return_value=httpx.Response(200, json={"nextToken": "", "results": []})
        )
        assert await backfill.backfill_source(config, config.sources["mailshake"], SINCE, engine, clock)
    # Once per feed for the whole range, not once per weekly chunk (8 chunks: 16 requests).
    assert (sent_route.call_count, replies_route.call_count) == (1, 1)
    counts = load_daily_counts(engine, keys=[("mailshake", "emails_sent")], first_day=SINCE, last_day=NOW.date())
    daily = owner_daily_counts(counts[("mailshake", "emails_sent")], None)
    assert daily == {SINCE + timedelta(days=n): 1.0 for n in range(53)}
    # Done through yesterday (the window ends now, today is partial): a second run reads today only.
    assert backfill_done_through(engine, "mailshake", SINCE) == date(2026, 11, 22)
    engine.dispose()


async def test_an_interrupted_backfill_leaves_the_cursor_where_the_syncs_left_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    clock = FakeClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    async with Sandbox(clock=clock, activity=activity()) as sandbox:
        config = make_config(CONFIG.format(key=sandbox.lemlist_api_key, url=sandbox.lemlist_url))
        source = config.sources["lemlist"]
        # The daemon has synced up to now.
        assert (await sync_source(config, source, engine, clock, SourceStats("lemlist", "lemlist", 900.0))).ok
        original = backfill.sync_window
        calls = 0

        async def interrupted(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls > 2:
                return SyncOutcome(source="lemlist", ok=False, window=args[5], error="interrupted")
            return await original(*args, **kwargs)

        monkeypatch.setattr(backfill, "sync_window", interrupted)
        assert not await backfill.backfill_source(config, source, SINCE, engine, clock)
    # Two weekly chunks of October were stored; the cursor still says "read up to now".
    assert load_source_states(engine)["lemlist"].cursor_end == NOW
    engine.dispose()


X_CONFIG = """
timezone: Europe/London
people: {carol: {identities: {x: "1453000003"}}}
sources:
  x: {connector: x, api_key: "x-user-token-0123456789", base_url: "http://127.0.0.1:9/2"}
kpis: {dms: {source: x, metric: dms_sent, per_person: true}}
goals: [{kpi: dms, owner: carol, period: month, target: 100}]
"""


async def test_x_is_read_once_for_its_thirty_days_not_once_per_week(tmp_path: Path):
    # X's dm_events has no time parameter and allows 15 reads per 15 minutes: read per weekly chunk,
    # each chunk would page back from the newest DM (5 chunks, 5 reads here, more with more pages).
    dms = [
        {
            "id": str(n),
            "event_type": "MessageCreate",
            "sender_id": "1453000003",
            "created_at": f"{NOW - timedelta(days=n, hours=1):%Y-%m-%dT%H:%M:%S.000Z}",
        }
        for n in range(29)
    ]
    clock = FakeClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(engine)
    config = make_config(X_CONFIG)
    with respx.mock(assert_all_called=False) as router:
        router.get("http://127.0.0.1:9/2/users/me").mock(
            return_value=httpx.Response(200, json={"data": {"id": "1453000003", "username": "carol"}})
        )
        dm_route = router.get("http://127.0.0.1:9/2/dm_events").mock(
            return_value=httpx.Response(200, json={"data": dms, "meta": {"result_count": len(dms)}})
        )
        assert await backfill.backfill_source(config, config.sources["x"], SINCE, engine, clock)
    assert dm_route.call_count == 1
    counts = load_daily_counts(engine, keys=[("x", "dms_sent")], first_day=SINCE, last_day=NOW.date())
    daily = owner_daily_counts(counts[("x", "dms_sent")], None)
    assert daily == {(NOW - timedelta(days=n, hours=1)).date(): 1.0 for n in range(29)}
    engine.dispose()
