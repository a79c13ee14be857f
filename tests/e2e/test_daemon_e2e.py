"""The whole path with real processes: sandbox fakes -> `syncd run` -> /metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from syncd.sandbox.server import DEMO_KIT_API_KEY, DEMO_LEMLIST_API_KEY
from tests.fakes import promtool_metric_lints
from tests.processes import SYNCD, Process, free_port, start_sandbox, wait_until

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Europe/London")


def month_start(now: datetime) -> datetime:
    local = now.astimezone(ZONE)
    return datetime.combine(local.date().replace(day=1), time(0), tzinfo=ZONE)


def spread(start: datetime, end: datetime, n: int) -> list[str]:
    """Return n instants evenly inside (start, end), as ISO strings with an offset."""
    step = (end - start) / n
    return [(start + step * (i + 0.5)).astimezone(UTC).isoformat() for i in range(n)]


def samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def goal(metric: str, kpi: str, owner: str, **extra: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (metric, frozenset({"kpi": kpi, "owner": owner, **extra}.items()))


CONFIG = """
timezone: Europe/London
database_url: {database_url}
listen: 127.0.0.1:{port}
teams:
  growth: {{head: maya}}
people:
  maya: {{team: growth}}
  alice: {{team: growth, identities: {{lemlist: alice@acme.io}}}}
  bob: {{team: growth, identities: {{lemlist: bob@acme.io}}}}
sources:
  lemlist: {{connector: lemlist, api_key: "${{LEMLIST_API_KEY}}", base_url: "{lemlist_url}", interval: 2s}}
  kit: {{connector: kit, api_key: "${{KIT_API_KEY}}", base_url: "{kit_url}", interval: 3s}}
kpis:
  emails: {{source: lemlist, metric: emails_sent, per_person: true}}
  optins: {{source: kit, metric: new_subscribers}}
goals:
  - {{kpi: emails, owner: alice, period: month, target: 40}}
  - {{kpi: emails, owner: bob, period: month, committed: 300, stretch: 0.3}}
  - {{kpi: emails, owner: growth, period: month, target: 100}}
  - {{kpi: optins, owner: maya, period: month, target: 50}}
"""


def test_daemon_syncs_sandbox_and_serves_the_numbers(processes: list[Process], tmp_path: Path, database_url: str):
    now = datetime.now(UTC)
    start = month_start(now)
    events = {
        "lemlist": [
            *({"type": "emailsSent", "createdAt": t, "sendUserEmail": "alice@acme.io"} for t in spread(start, now, 30)),
            *({"type": "emailsSent", "createdAt": t, "sendUserEmail": "bob@acme.io"} for t in spread(start, now, 7)),
            # Last month's and a stranger's emails count for nobody here.
            {
                "type": "emailsSent",
                "createdAt": (start - timedelta(hours=1)).isoformat(),
                "sendUserEmail": "alice@acme.io",
            },
            {"type": "emailsSent", "createdAt": spread(start, now, 1)[0], "sendUserEmail": "eve@acme.io"},
        ],
        "kit": [{"created_at": t, "id": 5000 + i} for i, t in enumerate(spread(start, now, 12))],
    }
    urls = start_sandbox(processes, tmp_path, events)
    port = free_port()
    config = tmp_path / "syncd.yaml"
    config.write_text(
        CONFIG.format(database_url=database_url, port=port, lemlist_url=urls["lemlist_url"], kit_url=urls["kit_url"])
    )
    env = {**os.environ, "LEMLIST_API_KEY": DEMO_LEMLIST_API_KEY, "KIT_API_KEY": DEMO_KIT_API_KEY}
    env.pop("SYNCD_DATABASE_URL", None)
    daemon = Process("daemon", [SYNCD, "run", "--config", str(config)], tmp_path, env=env)
    processes.append(daemon)
    base = f"http://127.0.0.1:{port}"

    def synced() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        got = samples(httpx.get(f"{base}/metrics", timeout=5).text)
        ready = got.get(goal("syncd_goal_value", "optins", "maya", source="kit", team="growth", period=_period(now)))
        return got if ready == 12 and got.get(_value("alice", now)) == 30 else None

    metrics = wait_until(synced, timeout=60, what="the goal values on /metrics")
    period = _period(now)
    labels = {"source": "lemlist", "team": "growth", "period": period}
    assert metrics[goal("syncd_goal_value", "emails", "bob", **labels)] == 7
    assert metrics[goal("syncd_goal_value", "emails", "growth", **labels)] == 37
    assert metrics[goal("syncd_goal_target", "emails", "bob", **labels)] == 390
    assert metrics[goal("syncd_goal_committed", "emails", "bob", **labels)] == 300
    # Linear pacing: E is the share of the month's real seconds gone, computed here independently.
    deadline = datetime.combine((start + timedelta(days=32)).date().replace(day=1), time(0), tzinfo=ZONE)
    scraped_at = datetime.now(UTC)
    elapsed = (scraped_at - start.astimezone(UTC)) / (deadline.astimezone(UTC) - start.astimezone(UTC))
    month_days = (deadline.date() - start.date()).days
    day_start = datetime.combine(scraped_at.astimezone(ZONE).date(), time(0), tzinfo=ZONE)
    if day_start.utcoffset() == deadline.utcoffset() == start.utcoffset():  # no DST change inside the month
        got_elapsed = metrics[goal("syncd_goal_elapsed_ratio", "emails", "alice", **labels)]
        assert got_elapsed == pytest.approx(elapsed, abs=60 / (month_days * 86400))
    expected = metrics[goal("syncd_goal_expected", "emails", "alice", **labels)]
    assert metrics[goal("syncd_goal_pace_ratio", "emails", "alice", **labels)] == pytest.approx(30 / expected)
    assert metrics[goal("syncd_goal_start_timestamp_seconds", "emails", "alice", **labels)] == start.timestamp()
    assert metrics[goal("syncd_goal_deadline_timestamp_seconds", "emails", "alice", **labels)] == deadline.timestamp()
    for source, connector in (("lemlist", "lemlist"), ("kit", "kit")):
        assert metrics[("syncd_source_up", frozenset({"source": source, "connector": connector}.items()))] == 1

    assert httpx.get(f"{base}/healthz").status_code == 200
    assert httpx.get(f"{base}/readyz").status_code == 200
    api = {(g["kpi"], g["owner"]): g for g in httpx.get(f"{base}/api/v1/goals").json()}
    assert (api[("emails", "bob")]["value"], api[("emails", "bob")]["target"]) == (7, 390)
    assert api[("emails", "alice")]["deadline"] == deadline.isoformat()
    page = httpx.get(f"{base}/").text
    assert "alice" in page
    assert "emails" in page

    body = httpx.get(f"{base}/metrics").text
    if shutil.which("promtool") or os.environ.get("CI") == "true":
        check = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
        # promtool exits 3 for lint findings only; anything else (a parse error) is a failure.
        assert check.returncode in (0, 3), check.stdout + check.stderr
        assert promtool_metric_lints(check.stdout + check.stderr) == []

    # `syncd status` reads the same stored rows: the figures agree with the daemon's.
    status = subprocess.run(
        [SYNCD, "status", "--config", str(config), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert status.returncode == 0, status.stderr
    rows = {(g["kpi"], g["owner"]): g for g in json.loads(status.stdout)}
    assert rows[("emails", "growth")]["value"] == 37
    assert rows[("optins", "maya")]["value"] == 12

    assert daemon.stop() == 0, daemon.output()
    # No API key anywhere the program wrote.
    written = body + page + daemon.output() + status.stdout + status.stderr
    if database_url.startswith("sqlite"):
        written += Path(database_url.removeprefix("sqlite:///")).read_bytes().decode("latin-1")
    for key in (DEMO_LEMLIST_API_KEY, DEMO_KIT_API_KEY):
        assert key not in written


def _period(now: datetime) -> str:
    return now.astimezone(ZONE).strftime("%Y-%m")


def _value(owner: str, now: datetime) -> tuple[str, frozenset[tuple[str, str]]]:
    return goal("syncd_goal_value", "emails", owner, source="lemlist", team="growth", period=_period(now))
