"""Push sources' health: up while pushes are accepted, last success = last accepted push, kept across restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator
from prometheus_client import generate_latest

from syncd.config import parse_config
from syncd.errors import ConfigError
from syncd.run.daemon import Daemon
from syncd.run.record import record_observation
from syncd.serve.api import sources_json
from syncd.serve.exposition import build_registry
from syncd.serve.push import push_routes
from syncd.serve.status_page import render_status_page
from syncd.serve.web import build_app
from syncd.store import create_engine_for, upgrade
from syncd.store.repository import load_source_states
from tests.fakes import FakeClock
from tests.test_api import schema_for

TOKEN = "calls-token-0123456789abcdef"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONFIG = """
people:
  alice: {identities: {calls: alice}}
sources:
  calls: {connector: push, token: "TOKEN"}
  interviews: {connector: push, token: "TOKEN", expect_every: 1d}
kpis:
  calls_held: {source: calls, metric: calls_held, per_person: true}
goals:
  - {kpi: calls_held, owner: alice, period: month, target: 40}
""".replace("TOKEN", TOKEN)


def series(daemon: Daemon, name: str) -> dict[str, float]:
    text = generate_latest(build_registry(daemon.holder)).decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line.rsplit(" ", 1)
            source = labels.split('source="', 1)[1].split('"', 1)[0]
            out[source] = float(value)
    return out


async def test_push_sources_are_up_and_fresh_from_accepted_pushes(tmp_path: Path):
    config = parse_config(CONFIG, file="syncd.yaml", environ={})
    engine = create_engine_for(f"sqlite:///{tmp_path / 'p.db'}")
    upgrade(engine)
    clock = FakeClock(NOW)
    daemon = Daemon(config, engine, clock=clock, extra_routes=push_routes)
    await daemon.evaluate()
    # Nobody pulls a push source: it is up (its endpoint accepts pushes), with nothing pushed yet.
    assert series(daemon, "syncd_source_up") == {"calls": 1.0, "interviews": 1.0}
    assert series(daemon, "syncd_source_last_success_timestamp_seconds") == {}
    # No interval unless the source declares expect_every: SyncdSourceStale has nothing to compare.
    assert series(daemon, "syncd_source_interval_seconds") == {"interviews": 86400.0}
    assert "up: waiting for a first push" in render_status_page(daemon.holder.current)
    # The API describes a push source without an interval too (interval_seconds null).
    answer = json.loads(json.dumps(sources_json(daemon.holder.current)))
    Draft202012Validator({"type": "array", "items": schema_for("Source")}).validate(answer)
    assert [source["interval_seconds"] for source in answer] == [None, 86400]
    assert "never synced" not in render_status_page(daemon.holder.current)

    clock.advance(60)
    async with TestClient(TestServer(build_app(daemon.web_state))) as client:
        body = {"observations": [{"metric": "calls_held", "subject": "alice", "day": "2026-11-23", "value": 3}]}
        response = await client.post(
            "/api/v1/sources/calls/observations", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status == 200, await response.text()
        await daemon.refresher.settle()  # the push answers once stored; the snapshot follows
    pushed_at = NOW + timedelta(seconds=60)
    assert series(daemon, "syncd_source_last_success_timestamp_seconds") == {"calls": pushed_at.timestamp()}
    assert load_source_states(engine)["calls"].last_success_at == pushed_at  # stored with the counts
    assert "up: receiving pushes" in render_status_page(daemon.holder.current)

    # `syncd record` from another process is a push too: the daemon's next tick reads it.
    recorded_at = NOW + timedelta(hours=2)
    record_observation(config, "interviews", metric="interviews", value=1, engine=engine, clock=FakeClock(recorded_at))
    await daemon.refresh_push_health()
    await daemon.evaluate()
    assert series(daemon, "syncd_source_last_success_timestamp_seconds") == {
        "calls": pushed_at.timestamp(),
        "interviews": recorded_at.timestamp(),
    }

    # A restart knows both from storage before any new push arrives.
    restarted = Daemon(config, engine, clock=FakeClock(NOW + timedelta(hours=3)), extra_routes=push_routes)
    await restarted.refresh_push_health()
    await restarted.evaluate()
    assert series(restarted, "syncd_source_last_success_timestamp_seconds") == {
        "calls": pushed_at.timestamp(),
        "interviews": recorded_at.timestamp(),
    }
    assert series(restarted, "syncd_source_up") == {"calls": 1.0, "interviews": 1.0}
    engine.dispose()


def test_expect_every_is_for_push_sources_only():
    text = CONFIG.replace(
        "kpis:", "  lemlist: {connector: lemlist, api_key: k0123456789abcdef, expect_every: 1d}\nkpis:"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="syncd.yaml", environ={})
    assert "sources.lemlist.expect_every" in str(info.value)
