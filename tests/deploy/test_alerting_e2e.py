"""The shipped rules and routes with the real programs: sandbox -> syncd -> Prometheus -> Alertmanager.

The scenario: a 21-day goal period with today in its middle; alice has exactly the value the
pacing curve expects by now, bob 30% of it. Then the sandbox dies, and the source goes stale.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from syncd.sandbox import DEMO_LEMLIST_API_KEY
from tests.deploy.stack import (
    Notification,
    Stack,
    WebhookReceiver,
    alertmanager_config_for_test,
    free_port,
    render_rules,
    start_alertmanager,
    start_prometheus,
    start_sandbox,
    start_syncd,
    wait_until,
)

pytestmark = pytest.mark.e2e

TARGET = 210.0
PERIOD_DAYS = 21
SYNC_INTERVAL_SECONDS = 3


def scenario(now: datetime) -> tuple[date, date, dict[str, object], int, int]:
    """Return the period, the events and both owners' counts for a period centred on today (UTC).

    Linear pacing over 21 days from 10 days ago: E(now) = (10 + fraction of today) / 21, so the
    expected value now is 210 × E = 100 + 10 × fraction. alice sends exactly that (rounded; pace
    ratio within 1 ± 0.01, far inside the 10% tolerance), bob 30% of it (pace ratio ≈ 0.3: behind).
    """
    today = now.date()
    start, end = today - timedelta(days=10), today + timedelta(days=10)
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    fraction = (now - midnight) / timedelta(days=1)
    expected = TARGET * (10 + fraction) / PERIOD_DAYS
    alice, bob = round(expected), round(0.3 * expected)
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    last = now - timedelta(minutes=1)  # everything already happened: the fakes serve up to "now"

    def spread(count: int, email: str) -> list[dict[str, str]]:
        step = (last - first) / count
        return [
            {"type": "emailsSent", "createdAt": (first + step * (i + 0.5)).isoformat(), "sendUserEmail": email}
            for i in range(count)
        ]

    events: dict[str, object] = {"lemlist": spread(alice, "alice@acme.io") + spread(bob, "bob@acme.io")}
    return start, end, events, alice, bob


def syncd_config(listen: str, database: str, lemlist_url: str, start: date, end: date) -> dict[str, Any]:
    period = {"start": start.isoformat(), "end": end.isoformat()}
    return {
        "timezone": "UTC",
        "database_url": database,
        "listen": listen,
        "teams": {"growth": {"head": "maya"}},
        "people": {
            "maya": {"team": "growth"},
            "alice": {"team": "growth", "identities": {"lemlist": "alice@acme.io"}},
            "bob": {"team": "growth", "identities": {"lemlist": "bob@acme.io"}},
        },
        "sources": {
            "lemlist": {
                "connector": "lemlist",
                "api_key": "${LEMLIST_API_KEY}",
                "base_url": lemlist_url,
                "interval": f"{SYNC_INTERVAL_SECONDS}s",
                "lookback": "1d",
            }
        },
        "kpis": {"outreach_emails_sent": {"source": "lemlist", "metric": "emails_sent", "per_person": True}},
        "goals": [
            {"kpi": "outreach_emails_sent", "owner": "alice", "period": period, "target": TARGET},
            {"kpi": "outreach_emails_sent", "owner": "bob", "period": period, "target": TARGET},
        ],
    }


def with_alert(notes: list[Notification], alertname: str) -> list[tuple[Notification, dict[str, Any]]]:
    """Return (notification, alert) for every delivered alert named `alertname`."""
    return [(n, a) for n in notes for a in n.alerts() if a["labels"]["alertname"] == alertname]


def goal_alerts_in_alertmanager(address: str) -> list[dict[str, Any]]:
    response = httpx.get(f"http://{address}/api/v2/alerts", params={"filter": 'alertname=~"SyncdGoal.+"'})
    return list(response.json())


def test_behind_owner_is_alerted_and_a_stale_source_inhibits_goal_alerts(stack: Stack) -> None:
    started = time.monotonic()
    start, end, events, alice_count, bob_count = scenario(datetime.now(UTC))
    assert bob_count < 0.9 * alice_count  # the scenario itself: bob is far behind, alice is not

    sandbox = start_sandbox(stack, events)
    listen = f"127.0.0.1:{free_port()}"
    config = syncd_config(listen, f"sqlite:///{stack.tmp / 'syncd.db'}", sandbox["lemlist_url"], start, end)
    syncd = start_syncd(stack, config, {"LEMLIST_API_KEY": DEMO_LEMLIST_API_KEY})

    with WebhookReceiver() as webhook:
        # repeat every 2 s: an alert that were not inhibited would be delivered again and again.
        address = start_alertmanager(stack, alertmanager_config_for_test(webhook.url, repeat_seconds=2))
        rules = render_rules(stack.tmp / "rules.yml", for_seconds=2)
        start_prometheus(stack, targets=[listen], rules=rules, alertmanager=address)

        # 1. bob's alert reaches bob (the owner) and maya (growth's head), labelled for them.
        def bob_behind() -> list[tuple[Notification, dict[str, Any]]]:
            return with_alert(webhook.received(), "SyncdGoalBehindPace")

        delivered = wait_until(bob_behind, timeout=45, what="SyncdGoalBehindPace at the webhook")
        # Delivered to both, and more than once to bob: repeats work, so silence later means inhibited.
        wait_until(
            lambda: (
                {n.receiver for n, _ in bob_behind()} >= {"bob", "maya"}
                and sum(n.receiver == "bob" for n, _ in bob_behind()) >= 2
            ),
            timeout=15,
            what="SyncdGoalBehindPace at maya and twice at bob",
        )
        delivered = bob_behind()
        for notification, alert in delivered:
            assert notification.receiver in {"bob", "maya"}
            labels = alert["labels"]
            assert (labels["owner"], labels["team"], labels["source"]) == ("bob", "growth", "lemlist")
            assert labels["kpi"] == "outreach_emails_sent"
            assert labels["period"] == f"{start.isoformat()}..{end.isoformat()}"
            assert alert["annotations"]["runbook_url"].endswith("docs/runbooks.md#syncdgoalbehindpace")
        goals = httpx.get(f"{syncd}/api/v1/goals").json()
        values = {g["owner"]: g["value"] for g in goals}
        assert values == {"alice": alice_count, "bob": bob_count}, stack.logs()

        # 2. nothing at all is about alice, and no source alert fired while the sandbox was up.
        notes = webhook.received()
        assert not [a for n in notes for a in n.alerts() if a["labels"].get("owner") == "alice"]
        assert not [a for n in notes for a in n.alerts() if a["labels"]["alertname"].startswith("SyncdSource")]

        # 3. the source dies: SyncdSourceStale reaches the operators...
        next(p for p in stack.processes if p.name == "sandbox").stop()
        stale = wait_until(
            lambda: with_alert(webhook.received(), "SyncdSourceStale"),
            timeout=40,
            what="SyncdSourceStale at the webhook",
        )
        stale_note, stale_alert = stale[0]
        assert stale_note.receiver == "syncd-operators"
        assert stale_alert["labels"]["source"] == "lemlist"

        # ...and bob's goal alert, still firing in Prometheus, is inhibited in Alertmanager...
        def bob_inhibited() -> bool:
            alerts = goal_alerts_in_alertmanager(address)
            bob = [a for a in alerts if a["labels"]["owner"] == "bob"]
            return bool(bob) and all(a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"] for a in bob)

        wait_until(bob_inhibited, timeout=10, what="bob's goal alert inhibited in Alertmanager")
        # ...so it is no longer delivered, though it repeats every 2 s when not inhibited.
        quiet_from = time.monotonic() + 1.0  # a notification already in flight may still land
        deadline = quiet_from + 6.0
        while time.monotonic() < deadline:
            time.sleep(0.5)
        late = [n for n, _ in bob_behind() if n.received > quiet_from]
        assert not late, f"goal alerts delivered while the source was stale: {late}"
    assert time.monotonic() - started < 120
