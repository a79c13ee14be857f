"""Check-in results read back: the daemon's snapshot, /metrics, /api/v1/checkins, the status page, `syncd checkins`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from connectors.base import DailyCount
from syncd.cli import main
from syncd.engine.checkin_results import CheckinResult
from syncd.run.daemon import Daemon
from syncd.serve.exposition import build_registry
from syncd.serve.openapi import openapi_document
from syncd.serve.status_page import render_status_page
from syncd.serve.web import WebState
from syncd.store import create_engine_for, save_sync, upgrade
from syncd.store.checkin_repository import save_checkin_results
from syncd.store.goal_history import record_config_goals
from tests.fakes import TEST_ENV, FakeClock, make_config
from tests.test_web import serve

CONFIG = """
database_url: sqlite:///DB
teams: {growth: {head: maya}}
people:
  maya: {team: growth}
  alice: {team: growth, identities: {lemlist: alice@acme.io}}
  bob: {identities: {lemlist: bob@acme.io}}
sources:
  lemlist: {connector: lemlist, api_key: "${LEMLIST_API_KEY}", lookback: 3d}
kpis:
  emails: {source: lemlist, metric: emails_sent, per_person: true}
goals:
  - {kpi: emails, owner: alice, period: month, target: TARGET, checkins: [week, fortnight]}
  - {kpi: emails, owner: bob, period: month, target: 100, checkins: week}
"""
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LABELS = {"kpi": "emails", "source": "lemlist", "owner": "alice", "team": "growth", "period": "2026-11"}


def prepare(tmp_path: Path) -> tuple[Path, Engine]:
    """Store alice's 10 a day from 5 October, the goal at 310 in October and 620 from 2 November."""
    db = tmp_path / "c.db"
    engine = create_engine_for(f"sqlite:///{db}")
    upgrade(engine)
    days = [date(2026, 10, 5) + timedelta(days=n) for n in range(50)]  # 5 October .. 23 November
    save_sync(
        engine,
        source="lemlist",
        metrics=("emails_sent",),
        counts=[DailyCount("emails_sent", "alice@acme.io", day, 10.0) for day in days],
        replace_from=days[0],
        replace_to=days[-1],
        cursor_end=AT - timedelta(hours=1),
        connector_state={},
        finished_at=AT - timedelta(hours=1),
    )
    text = CONFIG.replace("DB", str(db))
    record_config_goals(engine, make_config(text.replace("TARGET", "310")), datetime(2026, 9, 30, tzinfo=UTC))
    record_config_goals(engine, make_config(text.replace("TARGET", "620")), datetime(2026, 11, 2, 9, tzinfo=UTC))
    path = tmp_path / "syncd.yaml"
    path.write_text(text.replace("TARGET", "620"))
    return path, engine


def samples(body: bytes, name: str) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in LABELS.items()):
                out[(sample.labels["level"], sample.labels["checkpoint"])] = sample.value
    return out


async def test_the_daemon_publishes_results_per_level(tmp_path: Path):
    path, engine = prepare(tmp_path)
    # A September week judged by an earlier run: stored for good, but two periods back.
    september = CheckinResult(
        goal_key="emails|alice|month", kpi="emails", owner="alice", level="week", checkpoint="2026-W39",
        period="2026-09", first_day=date(2026, 9, 21), last_day=date(2026, 9, 27), target=70.0, value=80.0,
        unknown_days=0, outcome="hit", final=True,
    )  # fmt: skip
    save_checkin_results(engine, [september], datetime(2026, 9, 28, tzinfo=UTC))
    config = make_config(path.read_text())
    daemon = Daemon(config, engine, clock=FakeClock(AT))
    await daemon.evaluate()
    await daemon.record_checkins()
    snapshot = daemon.holder.current

    alice = {(r.level, r.checkpoint): r for r in snapshot.checkins if r.owner == "alice"}
    # October's weeks keep October's target: 310 over 31 days, 70 a week.
    assert (alice[("week", "2026-W41")].target, alice[("week", "2026-W41")].outcome) == (70.0, "hit")
    # 1..4 October were never synced: incomplete, not a miss of zeros.
    first = alice[("fortnight", "2026-10-01..2026-10-14")]
    assert (first.value, first.unknown_days, first.outcome) == (100.0, 4, "incomplete")
    assert alice[("fortnight", "2026-10-15..2026-10-28")].outcome == "hit"  # 140 of 140
    # bob sent nothing: the source synced those days, so his November weeks are real misses at 0;
    # before the source's first stored day his weeks are unknown like alice's.
    bob = {r.checkpoint: r for r in snapshot.checkins if r.owner == "bob"}
    assert (bob["2026-W45"].value, bob["2026-W45"].outcome) == (0.0, "missed")
    assert bob["2026-10-01..2026-10-04"].outcome == "incomplete"

    body = generate_latest(build_registry(daemon.holder))
    assert samples(body, "syncd_checkpoint_target") == {
        ("fortnight", "2026-11-15..2026-11-28"): pytest.approx(620 * 14 / 30),
        ("week", "2026-W48"): pytest.approx(620 * 7 / 30),
    }
    assert samples(body, "syncd_checkpoint_value") == {
        ("fortnight", "2026-11-15..2026-11-28"): 90.0,
        ("week", "2026-W48"): 10.0,
    }
    # Last closed: W47 (70 of 144.67) and 1..14 November (140 of 289.33), both missed.
    assert samples(body, "syncd_checkpoint_last_hit") == {
        ("fortnight", "2026-11-01..2026-11-14"): 0.0,
        ("week", "2026-W47"): 0.0,
    }

    async for url in serve(WebState(holder=daemon.holder, readiness=_ok)):
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{url}/api/v1/checkins", params={"owner": "alice"})
    assert response.status_code == 200
    rows = response.json()
    checkin_schema = openapi_document()["components"]["schemas"]["Checkin"]
    Draft202012Validator({"type": "array", "items": checkin_schema}).validate(rows)
    assert {row["owner"] for row in rows} == {"alice"}
    # The current period and the previous one, still judged; September's week stays in storage only.
    assert {row["period"] for row in rows} == {"2026-10", "2026-11"}
    w41 = next(row for row in rows if row["checkpoint"] == "2026-W41")
    assert w41 == {
        "kpi": "emails",
        "owner": "alice",
        "team": "growth",
        "source": "lemlist",
        "level": "week",
        "checkpoint": "2026-W41",
        "period": "2026-10",
        "first_day": "2026-10-05",
        "last_day": "2026-10-11",
        "target": 70.0,
        "value": 70.0,
        "unknown_days": 0,
        "outcome": "hit",
        "final": True,
    }

    page = render_status_page(snapshot)
    assert "2026-W39" not in page
    assert 'title="2026-W41: 70 / 70 (hit)"' in page
    assert 'title="2026-10-01..2026-10-14: 100 / 140 (incomplete)"' in page
    assert "Check-in 2026-11-15..2026-11-28" in page  # every level's current check-in
    assert "Check-in 2026-W48" in page


async def _ok() -> bool:
    return True


def test_checkins_command_json_and_table(tmp_path: Path):
    path, engine = prepare(tmp_path)
    engine.dispose()
    args = ["checkins", "--as-of", "2026-11-23T12:00:00+00:00", "--config", str(path)]
    result = CliRunner().invoke(main, [*args, "--format", "json", "--owner", "alice"], env=TEST_ENV)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    weeks = [(r["checkpoint"], r["target"], r["outcome"]) for r in rows if r["level"] == "week"]
    # Only the goal's period, November: October's weeks (stored, and on /api/v1/checkins) are last month's.
    assert weeks == [
        ("2026-11-01..2026-11-01", pytest.approx(310 / 30), "missed"),  # the target was 310 until 2 November
        ("2026-W45", pytest.approx(620 * 7 / 30), "missed"),
        ("2026-W46", pytest.approx(620 * 7 / 30), "missed"),
        ("2026-W47", pytest.approx(620 * 7 / 30), "missed"),
    ]
    assert {r["period"] for r in rows} == {"2026-11"}
    assert {r["owner"] for r in rows} == {"alice"}

    table = CliRunner().invoke(main, [*args, "--owner", "growth"], env=TEST_ENV)
    assert table.exit_code == 0, table.output
    for text in ("2026-W47", "missed", "in progress", "2026-11-15..2026-11-28"):
        assert text in table.output
    for text in ("2026-W41", "2026-10-"):  # a monthly goal's table is November's, not October's too
        assert text not in table.output
    assert "bob" not in table.output
    unknown = CliRunner().invoke(main, [*args, "--owner", "nobody"], env=TEST_ENV)
    assert unknown.exit_code == 2
