"""The MailerLite connector against the MailerLite fake on a real loopback port."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import ConnectorContext, SyncWindow
from connectors.mailerlite import MailerliteConnector, MailerliteSettings
from syncd.errors import SourceAuthError
from syncd.sandbox.mailerlite import (
    DEMO_GROUPS,
    MAILERLITE_RATE_LIMIT,
    MailerliteFake,
    MailerliteSubscriber,
    demo_events,
    expected_counts,
)
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
TOKEN = "mailerlite-demo-token-0001"


running = partial(serve, root="/api")


def connector_for(url: str, clock: FakeClock, token: str = TOKEN, **extra: str) -> MailerliteConnector:
    context = ConnectorContext(source="mailerlite", timezone=NEW_YORK, clock=clock, observer=RecordingObserver())
    settings = MailerliteSettings.model_validate(
        {"connector": "mailerlite", "api_key": token, "base_url": url, **extra}
    )
    return MailerliteConnector(settings, context)


@pytest.fixture
def events() -> list[MailerliteSubscriber]:
    # Runs past NOW: subscribers who have not joined yet must not be served.
    return demo_events(5, date(2025, 10, 1), date(2026, 3, 22), NEW_YORK)


def window(first: date) -> SyncWindow:
    return SyncWindow(start=datetime(first.year, first.month, first.day, tzinfo=NEW_YORK), end=NOW, timezone=NEW_YORK)


def test_demo_events_are_deterministic_and_hold_inactive_subscribers() -> None:
    first = demo_events(5, date(2026, 3, 1), date(2026, 3, 31), NEW_YORK)
    assert first == demo_events(5, date(2026, 3, 1), date(2026, 3, 31), NEW_YORK)
    assert first != demo_events(6, date(2026, 3, 1), date(2026, 3, 31), NEW_YORK)
    assert any(s.status != "active" for s in first)


@pytest.mark.parametrize("group", [None, DEMO_GROUPS["bob"]])
async def test_counts_equal_the_ground_truth(events: list[MailerliteSubscriber], group: str | None) -> None:
    clock = FakeClock(NOW)
    fake = MailerliteFake(events, clock, TOKEN)
    sync_window = window(date(2026, 2, 1))
    async with running(fake.app()) as url:
        connector = connector_for(url, clock, **({"group_id": group} if group else {}))
        result = await connector.collect(sync_window, {})
        await connector.aclose()
    truth = expected_counts(events, NEW_YORK, sync_window.start, sync_window.end, group_id=group)
    assert truth
    assert {(c.metric, c.subject, c.day): c.value for c in result.counts} == truth
    assert fake.requests > 1  # paged with a cursor


async def test_a_wrong_token_fails_after_one_request(events: list[MailerliteSubscriber]) -> None:
    clock = FakeClock(NOW)
    fake = MailerliteFake(events, clock, TOKEN)
    async with running(fake.app()) as url:
        connector = connector_for(url, clock, token="not-the-token")
        with pytest.raises(SourceAuthError, match="HTTP 401"):
            await connector.check()
        await connector.aclose()
    assert fake.requests == 1


async def test_a_spent_minute_is_waited_out(events: list[MailerliteSubscriber]) -> None:
    clock = FakeClock(NOW)
    fake = MailerliteFake(events, clock, TOKEN)
    sync_window = window(date(2026, 3, 1))
    async with running(fake.app()) as url:
        # Another app sharing the token spends this minute's quota first.
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as other:
            for _ in range(MAILERLITE_RATE_LIMIT):
                assert (await other.get(f"{url}/subscribers", params={"limit": "1"})).status_code == 200
        connector = connector_for(url, clock)
        result = await connector.collect(sync_window, {})
        await connector.aclose()
    assert clock.sleeps == [60.0]
    truth = expected_counts(events, NEW_YORK, sync_window.start, sync_window.end)
    assert {(c.metric, c.subject, c.day): c.value for c in result.counts} == truth
