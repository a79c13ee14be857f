"""A running daemon and its database on SQLite and PostgreSQL: outside writes, health after a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from connectors.base import DailyCount
from syncd.run.daemon import Daemon
from syncd.serve.exposition import build_registry
from syncd.store import create_engine_for, record_failure, save_sync
from syncd.store.push_repository import PushedCount, apply_pushed_counts
from tests.fakes import FakeClock, make_config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TODAY = NOW.date()

CONFIG = """
people:
  alice: {identities: {lemlist: alice@acme.io}}
sources:
  lemlist: {connector: lemlist, api_key: "${LEMLIST_API_KEY}", base_url: "http://127.0.0.1:9", interval: 15m}
  kit: {connector: kit, api_key: "${KIT_API_KEY}", base_url: "http://127.0.0.1:9", interval: 1h}
  desk: {connector: push, token: push-token-0000-0000-0001}
kpis:
  emails: {source: lemlist, metric: emails_sent, per_person: true}
  optins: {source: kit, metric: new_subscribers}
  calls: {source: desk, metric: calls}
goals:
  - {kpi: emails, owner: alice, period: month, target: 40}
  - {kpi: optins, owner: alice, period: month, target: 30}
  - {kpi: calls, owner: alice, period: month, target: 20}
"""


def values(daemon: Daemon) -> dict[str, float]:
    return {g.kpi: g.value for g in daemon.holder.current.goals}


def other_process(engine: Engine) -> Engine:
    """A second engine on the same database, as `syncd record` or `syncd backfill` would open."""
    return create_engine_for(engine.url.render_as_string(hide_password=False))


def sync_lemlist(engine: Engine, sent: dict[int, float], at: datetime) -> None:
    save_sync(
        engine,
        source="lemlist",
        metrics=("emails_sent", "emails_replied"),
        counts=[DailyCount("emails_sent", "alice@acme.io", TODAY - timedelta(days=d), v) for d, v in sent.items()],
        replace_from=TODAY - timedelta(days=5),
        replace_to=TODAY,
        cursor_end=at,
        connector_state={},
        finished_at=at,
    )


async def test_counts_written_by_another_process_show_within_one_tick(engine: Engine) -> None:
    clock = FakeClock(NOW)
    daemon = Daemon(make_config(CONFIG), engine, clock=clock)
    await daemon.start()
    assert values(daemon) == {"emails": 0, "optins": 0, "calls": 0}

    outside = other_process(engine)
    try:
        # A backfill or another replica stores a sync; `syncd record` stores two calls.
        sync_lemlist(outside, {1: 4.0, 2: 3.0}, NOW)
        apply_pushed_counts(
            outside,
            source="desk",
            counts=[PushedCount("calls", "alice", TODAY, 2.0), PushedCount("calls", "alice", TODAY, 5.0, "add", "k1")],
            at=NOW,
        )
        assert values(daemon) == {"emails": 0, "optins": 0, "calls": 0}  # not yet: no tick has passed
        clock.advance(15)
        await daemon.tick()
        assert values(daemon) == {"emails": 7, "optins": 0, "calls": 7}

        # A later correction of one day is re-read too; an idle tick changes nothing.
        sync_lemlist(outside, {1: 10.0, 2: 3.0}, NOW + timedelta(minutes=1))
        await daemon.tick()
        assert values(daemon) == {"emails": 13, "optins": 0, "calls": 7}
        token = daemon.change_watch.token
        await daemon.tick()
        assert daemon.change_watch.token == token
        assert values(daemon) == {"emails": 13, "optins": 0, "calls": 7}
    finally:
        outside.dispose()


async def test_source_health_comes_back_from_the_database_after_a_restart(engine: Engine) -> None:
    synced_at = NOW - timedelta(minutes=7)
    sync_lemlist(engine, {1: 4.0}, synced_at)
    record_failure(engine, source="kit", error="Kit answered 401: check api_key", at=NOW - timedelta(minutes=3))

    daemon = Daemon(make_config(CONFIG), engine, clock=FakeClock(NOW))
    await daemon.start()

    sources = {s.name: s for s in daemon.holder.current.sources}
    assert sources["lemlist"].up is True
    assert sources["lemlist"].last_success == synced_at
    assert sources["kit"].up is False
    assert sources["kit"].last_success is None
    assert sources["kit"].last_error == "Kit answered 401: check api_key"
    exposition = generate_latest(build_registry(daemon.holder)).decode()
    samples = {
        (sample.name, sample.labels["source"]): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name in ("syncd_source_up", "syncd_source_last_success_timestamp_seconds")
    }
    assert samples[("syncd_source_last_success_timestamp_seconds", "lemlist")] == synced_at.timestamp()
    assert ("syncd_source_last_success_timestamp_seconds", "kit") not in samples
    assert samples[("syncd_source_up", "lemlist")] == 1.0
    assert samples[("syncd_source_up", "kit")] == 0.0
