"""The Gmail connector against the Gmail fake on a real loopback port: counts equal the ground truth."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import ConnectorContext, SyncWindow
from connectors.gmail import GmailConnector, GmailSettings
from syncd.errors import SourceAuthError, SourceRateLimited
from syncd.sandbox.gmail import DEMO_MAILBOXES, GmailFake, GmailMessage, demo_events, expected_counts
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 4, 20, 0, tzinfo=UTC)
TOKEN = "ya29.demo-gmail-token-0123456789"


running = partial(serve, root="/gmail/v1")


def window(first: date) -> SyncWindow:
    return SyncWindow(start=datetime.combine(first, datetime.min.time(), tzinfo=NEW_YORK), end=NOW, timezone=NEW_YORK)


async def collect(
    url: str, clock: FakeClock, span: SyncWindow, mailbox: str, observer: RecordingObserver | None = None
) -> dict[tuple[str, str, date], float]:
    context = ConnectorContext(source="gmail", timezone=NEW_YORK, clock=clock, observer=observer or RecordingObserver())
    settings = GmailSettings(connector="gmail", api_key=TOKEN, base_url=url, mailbox=mailbox)
    gmail = GmailConnector(settings, context)
    try:
        result = await gmail.collect(span, {})
    finally:
        await gmail.aclose()
    return {(c.metric, c.subject, c.day): c.value for c in result.counts}


def test_demo_events_are_deterministic_and_hold_received_mail() -> None:
    first = demo_events(9, date(2026, 11, 1), date(2026, 11, 7), NEW_YORK)
    assert first == demo_events(9, date(2026, 11, 1), date(2026, 11, 7), NEW_YORK)
    assert first != demo_events(10, date(2026, 11, 1), date(2026, 11, 7), NEW_YORK)
    assert any("INBOX" in e.labels for e in first)


async def test_counts_equal_the_ground_truth_for_every_mailbox() -> None:
    events = demo_events(9, date(2026, 10, 28), date(2026, 11, 6), NEW_YORK)  # the days after NOW are not served
    clock = FakeClock(NOW)
    span = window(date(2026, 10, 28))  # crosses the end of daylight saving time on 1 November
    collected: dict[tuple[str, str, date], float] = {}
    async with running(GmailFake(events, clock, TOKEN).app()) as url:
        for mailbox in DEMO_MAILBOXES.values():
            collected.update(await collect(url, clock, span, mailbox))
    truth = expected_counts(events, NEW_YORK, span.start, span.end)
    assert collected == truth
    assert {k[1] for k in truth} == set(DEMO_MAILBOXES.values())


async def test_me_is_the_token_owner_and_midnight_messages_land_once() -> None:
    midnight = datetime(2026, 11, 2, tzinfo=NEW_YORK)
    events = [
        GmailMessage("alice@acme.io", "m1", "t1", midnight),
        GmailMessage("alice@acme.io", "m2", "t2", datetime(2026, 11, 1, 23, 59, 59, tzinfo=NEW_YORK)),
        GmailMessage("alice@acme.io", "m3", "t3", datetime(2026, 11, 1, 12, tzinfo=NEW_YORK), ("INBOX",)),
        GmailMessage("bob@acme.io", "m4", "t4", datetime(2026, 11, 1, 12, tzinfo=NEW_YORK)),
    ]
    clock = FakeClock(NOW)
    async with running(GmailFake(events, clock, TOKEN).app()) as url:
        collected = await collect(url, clock, window(date(2026, 11, 1)), "me")
    assert collected == {
        ("emails_sent", "me", date(2026, 11, 1)): 1.0,
        ("emails_sent", "me", date(2026, 11, 2)): 1.0,
    }


async def test_a_bad_token_is_an_auth_error() -> None:
    clock = FakeClock(NOW)
    async with running(GmailFake([], clock, TOKEN).app()) as url:
        context = ConnectorContext(source="gmail", timezone=NEW_YORK, clock=clock)
        settings = GmailSettings(connector="gmail", api_key="ya29.wrong-token-000000", base_url=url)
        gmail = GmailConnector(settings, context)
        with pytest.raises(SourceAuthError, match="HTTP 401"):
            await gmail.check()
        await gmail.aclose()


async def test_the_per_user_quota_answers_403_which_is_a_rate_limit() -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    # 12 units a minute: two list calls (5 units each), then userRateLimitExceeded.
    fake = GmailFake(demo_events(9, date(2026, 11, 1), date(2026, 11, 4), NEW_YORK), clock, TOKEN, units_per_minute=12)
    async with running(fake.app()) as url:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            params = {"q": "in:sent after:1761969600 before:1762059600"}
            codes = [(await http.get(f"{url}/users/me/messages", params=params)).status_code for _ in range(3)]
            over = await http.get(f"{url}/users/me/messages", params=params)
        assert codes == [200, 200, 403]
        assert over.json()["error"]["errors"][0]["reason"] == "userRateLimitExceeded"
        clock.advance(60.0)
        with pytest.raises(SourceRateLimited, match="gave up after 5 attempts"):
            await collect(url, clock, window(date(2026, 11, 1)), "me", observer)
    # Two days read, then the third day's search is refused five times: retried as a rate limit, not auth.
    assert observer.codes == ["200", "200", "403", "403", "403", "403", "403"]
