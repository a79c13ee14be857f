"""The daemon in process: syncs against the sandbox on a fake clock, failures, reloads, exposition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from sqlalchemy import func, select

from syncd.run.daemon import Daemon
from syncd.sandbox.activity import ExplicitActivity, make_kit_subscriber, make_lemlist_activity
from syncd.sandbox.server import Sandbox
from syncd.serve.exposition import build_registry
from syncd.store import create_engine_for, upgrade
from syncd.store.models import DAILY_COUNTS
from tests.fakes import FakeClock, make_config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

CONFIG = """
timezone: Europe/London
teams: {{growth: {{}}}}
people:
  alice: {{team: growth, identities: {{lemlist: alice@acme.io}}}}
  bob: {{team: growth, identities: {{lemlist: bob@acme.io}}}}
sources:
  lemlist: {{connector: lemlist, api_key: "{lemlist_key}", base_url: "{lemlist_url}", interval: 1m}}
  kit: {{connector: kit, api_key: "{kit_key}", base_url: "{kit_url}", interval: 1h}}
kpis:
  emails: {{source: lemlist, metric: emails_sent, per_person: true}}
  optins: {{source: kit, metric: new_subscribers}}
goals:
  - {{kpi: emails, owner: alice, period: month, target: 40}}
  - {{kpi: emails, owner: bob, period: month, target: 40}}
  - {{kpi: optins, owner: growth, period: month, target: 30}}
"""


def activity() -> ExplicitActivity:
    emails = [
        make_lemlist_activity("emailsSent", NOW - timedelta(days=d, hours=1), "alice@acme.io", n=d)
        for d in range(1, 13)
    ] + [make_lemlist_activity("emailsSent", NOW - timedelta(days=d), "bob@acme.io", n=100 + d) for d in range(1, 4)]
    subscribers = [make_kit_subscriber(NOW - timedelta(days=d), id=7000 + d) for d in range(1, 6)]
    return ExplicitActivity(lemlist=emails, kit=subscribers)


def config_for(sandbox: Sandbox, text: str = CONFIG):
    return make_config(
        text.format(
            lemlist_key=sandbox.lemlist_api_key,
            kit_key=sandbox.kit_api_key,
            lemlist_url=sandbox.lemlist_url,
            kit_url=sandbox.kit_url,
        )
    )


def values(daemon: Daemon) -> dict[tuple[str, str], float]:
    return {(g.kpi, g.owner): g.value for g in daemon.holder.current.goals}


async def test_sync_failure_and_reload(tmp_path: Path):
    clock = FakeClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'd.db'}")
    upgrade(engine)
    sandbox = Sandbox(clock=clock, activity=activity())
    await sandbox.start()
    config = config_for(sandbox)
    daemon = Daemon(config, engine, clock=clock)
    await daemon.evaluate()
    assert values(daemon) == {("emails", "alice"): 0, ("emails", "bob"): 0, ("optins", "growth"): 0}

    first = await daemon.sync_once(config.sources["lemlist"])
    assert first.ok
    # One connector per source for the daemon's life: the next sync reuses its client and limiter.
    first_connector = await daemon.connectors.get(config.sources["lemlist"], lambda: None)  # type: ignore[arg-type,return-value]
    assert values(daemon)[("emails", "alice")] == 12
    assert values(daemon)[("emails", "bob")] == 3
    kit_goal_before = daemon.holder.current.goals[2]

    # The same sync again stores the same rows: nothing changes, no row is added.
    with engine.connect() as connection:
        rows_before = connection.execute(select(func.count()).select_from(DAILY_COUNTS)).scalar_one()
    again = await daemon.sync_once(config.sources["lemlist"])
    assert (again.ok, again.changed) == (True, 0)
    assert await daemon.connectors.get(config.sources["lemlist"], lambda: None) is first_connector  # type: ignore[arg-type,return-value]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(DAILY_COUNTS)).scalar_one() == rows_before
    # Only the synced source's goals were recomputed; the kit goal is the very same object.
    assert daemon.holder.current.goals[2] is kit_goal_before

    await daemon.sync_once(config.sources["kit"])
    assert values(daemon)[("optins", "growth")] == 5

    # The vendor goes away: the sync fails, the source is down, the last good numbers stay.
    # Close the pooled connections first: httpcore drops a keep-alive socket whose peer vanished
    # without closing it, which pytest (warnings as errors) would report as a leak.
    await daemon.connectors.aclose()
    await sandbox.stop()
    failed = await daemon.sync_once(config.sources["lemlist"])
    assert (failed.ok, failed.reason) == (False, "unavailable")
    assert values(daemon)[("emails", "alice")] == 12
    exposition = generate_latest(build_registry(daemon.holder)).decode()
    assert 'syncd_source_up{connector="lemlist",source="lemlist"} 0.0' in exposition
    assert 'syncd_source_up{connector="kit",source="kit"} 1.0' in exposition
    assert (
        'syncd_source_sync_failures_total{connector="lemlist",reason="unavailable",source="lemlist"} 1.0' in exposition
    )
    assert 'syncd_source_syncs_total{connector="lemlist",source="lemlist"} 3.0' in exposition
    assert (
        'syncd_goal_value{kpi="emails",owner="bob",period="2026-11",source="lemlist",team="growth"} 3.0' in exposition
    )
    assert "lemlist-test-key" not in exposition
    assert sandbox.lemlist_api_key not in exposition
    assert sandbox.lemlist_api_key not in (failed.error or "")

    # A reload without bob's goal removes its series at once.
    await daemon.reload(
        config_for(sandbox, CONFIG.replace("  - {{kpi: emails, owner: bob, period: month, target: 40}}\n", ""))
    )
    exposition = generate_latest(build_registry(daemon.holder)).decode()
    assert 'owner="bob"' not in exposition
    assert (
        'syncd_goal_value{kpi="emails",owner="alice",period="2026-11",source="lemlist",team="growth"} 12.0'
        in exposition
    )
    engine.dispose()


async def test_pace_moves_with_the_clock_without_a_sync(tmp_path: Path):
    clock = FakeClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'd.db'}")
    upgrade(engine)
    async with Sandbox(clock=clock, activity=activity()) as sandbox:
        daemon = Daemon(config_for(sandbox), engine, clock=clock)
        await daemon.sync_once(daemon.config.sources["lemlist"])
        before = daemon.holder.current.goals[0].figures.elapsed_ratio
        clock.advance(86400)
        await daemon.evaluate()
        after = daemon.holder.current.goals[0].figures.elapsed_ratio
        await daemon.connectors.aclose()
    # One day of a 30-day month, linear pacing.
    assert after - before == pytest.approx(1 / 30)
    engine.dispose()
