"""The daemon backfills, in the background, history a goal added later needs (issue 8, item 7)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import generate_latest

from syncd.run.auto_backfill import BackfillNeed, goal_data_complete, next_chunk, plan_backfills, source_needs
from syncd.run.daemon import Daemon
from syncd.sandbox.activity import ExplicitActivity, make_lemlist_activity
from syncd.sandbox.server import Sandbox
from syncd.serve.exposition import build_registry
from syncd.store import create_engine_for, load_source_states, upgrade
from syncd.store.coverage_repository import load_coverage
from tests.fakes import FakeClock, make_config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday
LONDON = ZoneInfo("Europe/London")

BASE = """
timezone: Europe/London
people: {{alice: {{identities: {{lemlist: alice@acme.io}}}}}}
sources:
  lemlist: {{connector: lemlist, api_key: "{key}", base_url: "{url}", interval: 1m}}
kpis: {{emails: {{source: lemlist, metric: emails_sent, per_person: true}}}}
"""
MONTH_GOAL = "goals: [{kpi: emails, owner: alice, period: month, target: 600}]\n"


def activity() -> ExplicitActivity:
    """One email a day in September and October; in November 16 + (day mod 4) a day, 12 on the 23rd."""
    emails = []
    n = 0

    def send(at: datetime) -> None:
        nonlocal n
        n += 1
        emails.append(make_lemlist_activity("emailsSent", at, "alice@acme.io", n=n))

    for offset in range(61):
        day = date(2026, 9, 1) + timedelta(days=offset)
        send(datetime(day.year, day.month, day.day, 10, tzinfo=LONDON))
    for day_of_month in range(1, 23):
        for k in range(16 + day_of_month % 4):
            send(datetime(2026, 11, day_of_month, 9, k, tzinfo=LONDON))
    for k in range(12):
        send(datetime(2026, 11, 23, 9, k, tzinfo=LONDON))
    return ExplicitActivity(lemlist=emails)


def series(text: str, name: str) -> float:
    lines = [line for line in text.splitlines() if line.startswith(name + "{")]
    assert len(lines) == 1, lines
    return float(lines[0].rsplit(" ", 1)[1])


async def test_a_month_goal_added_mid_month_is_filled_in_by_the_running_daemon(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'b.db'}")
    upgrade(engine)
    clock = FakeClock(NOW)
    async with Sandbox(clock=clock, activity=activity()) as sandbox:
        base = BASE.format(key=sandbox.lemlist_api_key, url=sandbox.lemlist_url)
        daemon = Daemon(make_config(base), engine, clock=clock)
        lemlist = daemon.config.sources["lemlist"]
        # Running with no goal on the source: its syncs read the lookback window, from 20 November.
        assert (await daemon.sync_once(lemlist)).ok
        assert load_coverage(engine) == {"lemlist": date(2026, 11, 20)}
        await daemon.reload(make_config(base + MONTH_GOAL))
        await daemon.auto_backfill.refresh()
        await daemon.evaluate()
        [goal] = daemon.holder.current.goals
        # What the issue saw: only the synced days count (16 + 17 + 18 + 12 here; 74 there).
        assert (goal.value, goal.data_complete) == (63, False)
        text = generate_latest(build_registry(daemon.holder)).decode()
        assert series(text, "syncd_goal_data_complete") == 0
        # The forecast learns from the 8 weeks before 1 November: from 6 September to 19 November.
        assert series(text, "syncd_source_backfill_remaining_days") == 75

        progress: list[tuple[float, bool, float]] = []
        while await daemon.auto_backfill.step():
            [goal] = daemon.holder.current.goals
            text = generate_latest(build_registry(daemon.holder)).decode()
            progress.append((goal.value, goal.data_complete, series(text, "syncd_source_backfill_remaining_days")))
            if len(progress) == 2:
                # A normal sync between chunks goes through as usual.
                assert (await daemon.sync_once(lemlist)).ok
        await daemon.connectors.aclose()
    # Newest first, a week per chunk: 13-19 Nov, 6-12 Nov, 30 Oct-5 Nov completes the month.
    assert progress[:3] == [(187, False, 68), (310, False, 61), (397, True, 54)]
    assert len(progress) == 11  # 75 days in weekly chunks
    assert progress[-1] == (397, True, 0)
    assert series(text, "syncd_goal_data_complete") == 1
    assert series(text, "syncd_goal_value") == 397
    assert load_coverage(engine) == {"lemlist": date(2026, 9, 6)}
    # The chunks were older than the cursor: it still says "read up to now".
    assert load_source_states(engine)["lemlist"].cursor_end == NOW
    engine.dispose()


PLANNER = """
timezone: Europe/London
people: {alice: {identities: {lemlist: alice@acme.io, x: alice, mailshake: alice@acme.io, calls: alice}}}
sources:
  lemlist: {connector: lemlist, api_key: "lemlist-key-0123456789"}
  x: {connector: x, api_key: "x-token-123456"}
  mailshake: {connector: mailshake, api_key: "mailshake-key-0123456789"}
  calls: {connector: push, token: "calls-token-0123456789"}
kpis:
  emails: {source: lemlist, metric: emails_sent, per_person: true}
  posts: {source: x, metric: dms_sent, per_person: true}
  sent: {source: mailshake, metric: emails_sent, per_person: true}
  calls: {source: calls, metric: calls_held, per_person: true}
goals:
  - {kpi: emails, owner: alice, period: month, target: 100, pacing: history}
  - {kpi: posts, owner: alice, period: month, target: 10}
  - {kpi: sent, owner: alice, period: week, target: 10}
  - {kpi: calls, owner: alice, period: month, target: 10}
"""


def test_the_planner_reads_what_the_goals_need_within_each_vendors_history() -> None:
    config = make_config(PLANNER)
    goals = {goal.kpi: goal for goal in config.goals}
    # History pacing reaches back two years; X keeps 30 days (from 25 October); the week goal's
    # forecast wants the 8 weeks before 23 November; a push source has nothing to backfill.
    assert source_needs(config, NOW) == {
        "lemlist": date(2026, 11, 1) - timedelta(days=366 + 31 * 12),
        "x": date(2026, 10, 25),
        "mailshake": date(2026, 9, 28),
    }
    coverage = {"lemlist": date(2026, 10, 1), "x": date(2026, 10, 25), "mailshake": date(2026, 11, 20)}
    needs = plan_backfills(config, coverage, NOW)
    assert sorted(needs) == ["lemlist", "mailshake"]
    assert needs["mailshake"].remaining_days(NOW.date()) == 53
    # The month is stored but the history curve is not: the emails goal is still incomplete.
    assert not goal_data_complete(config, goals["emails"], coverage, NOW)
    assert goal_data_complete(config, goals["posts"], coverage, NOW)
    assert goal_data_complete(config, goals["calls"], coverage, NOW)
    # The week is stored; only the forecast's weeks are missing, which does not mute alerts.
    assert goal_data_complete(config, goals["sent"], coverage, NOW)
    assert not goal_data_complete(config, goals["sent"], {"mailshake": date(2026, 11, 24)}, NOW)
    # A never-synced source: its goals wait for the first sync.
    assert not goal_data_complete(config, goals["posts"], {}, NOW)
    # Weekly chunks newest first; a feed without date filter gets the whole gap in one read.
    week = next_chunk(config, needs["lemlist"], NOW)
    assert (week.first_day, week.last_day) == (date(2026, 9, 24), date(2026, 9, 30))
    whole = next_chunk(config, needs["mailshake"], NOW, date_filter=False)
    assert (whole.first_day, whole.last_day) == (date(2026, 9, 28), date(2026, 11, 19))
    assert BackfillNeed("x", date(2026, 10, 25), None).remaining_days(NOW.date()) == 30


class IdleClock(FakeClock):
    """A fake clock on which short waits pass at once and long ones (intervals, idle) never end."""

    async def sleep(self, seconds: float) -> None:
        if seconds >= 15:
            await asyncio.Event().wait()
        await super().sleep(seconds)


async def test_the_running_daemon_backfills_in_the_background(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = IdleClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    caplog.set_level(logging.INFO, logger="syncd.run.auto_backfill")
    async with Sandbox(clock=clock, activity=activity()) as sandbox:
        base = BASE.format(key=sandbox.lemlist_api_key, url=sandbox.lemlist_url)
        # A previous run of the daemon synced the source with no goal on it: from 20 November.
        earlier = Daemon(make_config(base), engine, clock=clock)
        assert (await earlier.sync_once(earlier.config.sources["lemlist"])).ok
        await earlier.connectors.aclose()

        daemon = Daemon(make_config(base + MONTH_GOAL), engine, clock=clock)
        stop = asyncio.Event()
        running = asyncio.create_task(daemon.run(stop, serve=False))
        async with asyncio.timeout(60):
            # The snapshot is what a scrape reads; the daemon has no event to await for it.
            while daemon.holder.current.backfill_remaining_days.get("lemlist", -1) != 0:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # the daemon's tasks run meanwhile
        stop.set()
        await running
    [goal] = daemon.holder.current.goals
    assert (goal.value, goal.data_complete) == (397, True)
    assert "backfill of lemlist: stored 2026-11-13..2026-11-19, 68 days left" in caplog.text
    assert "backfill of lemlist: stored 2026-09-06..2026-09-10, 0 days left" in caplog.text
    assert load_coverage(engine) == {"lemlist": date(2026, 9, 6)}
    engine.dispose()
