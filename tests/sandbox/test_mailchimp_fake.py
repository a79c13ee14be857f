"""The Mailchimp connector against the Mailchimp fake on a real loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from functools import partial
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import ConnectorContext, SyncWindow
from connectors.mailchimp import MailchimpConnector, MailchimpSettings
from syncd.errors import SourceAuthError, SourceRequestError
from syncd.sandbox.mailchimp import DEMO_LIST_ID, MailchimpFake, MailchimpMember, demo_events, expected_counts
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
KEY = "f00dfeedf00dfeedf00dfeedf00dfeed-us19"


running = partial(serve, root="/3.0")


@asynccontextmanager
async def connected(
    fake: MailchimpFake, clock: FakeClock, key: str = KEY, observer: RecordingObserver | None = None
) -> AsyncIterator[MailchimpConnector]:
    async with running(fake.app()) as url:
        context = ConnectorContext(
            source="mailchimp", timezone=LONDON, clock=clock, observer=observer or RecordingObserver()
        )
        settings = MailchimpSettings(connector="mailchimp", api_key=key, list_id=DEMO_LIST_ID, base_url=url)
        connector = MailchimpConnector(settings, context)
        try:
            yield connector
        finally:
            await connector.aclose()


@pytest.fixture
def events() -> list[MailchimpMember]:
    # Runs past NOW: members who have not joined yet must not be served.
    return demo_events(3, date(2025, 6, 1), date(2026, 3, 22), LONDON)


def window(first: date) -> SyncWindow:
    return SyncWindow(start=datetime(first.year, first.month, first.day, tzinfo=LONDON), end=NOW, timezone=LONDON)


def test_demo_events_are_deterministic_and_hold_uncounted_members() -> None:
    first = demo_events(3, date(2026, 3, 1), date(2026, 3, 31), LONDON)
    assert first == demo_events(3, date(2026, 3, 1), date(2026, 3, 31), LONDON)
    assert first != demo_events(4, date(2026, 3, 1), date(2026, 3, 31), LONDON)
    assert any(m.status != "subscribed" for m in first)
    assert any(m.timestamp_opt is None for m in first)


async def test_counts_equal_the_ground_truth(events: list[MailchimpMember]) -> None:
    clock = FakeClock(NOW)
    fake = MailchimpFake(events, clock, KEY)
    sync_window = window(date(2025, 6, 2))
    async with connected(fake, clock) as connector:
        result = await connector.collect(sync_window, {})
    truth = expected_counts(events, LONDON, sync_window.start, sync_window.end)
    assert sum(truth.values()) > 1000  # more than one page of 1000
    assert {(c.metric, c.subject, c.day): c.value for c in result.counts} == truth
    assert fake.requests == 2


async def test_check_through_the_fake(events: list[MailchimpMember]) -> None:
    clock = FakeClock(NOW)
    async with connected(MailchimpFake(events, clock, KEY), clock) as connector:
        await connector.check()


async def test_a_wrong_key_fails_after_one_request(events: list[MailchimpMember]) -> None:
    clock = FakeClock(NOW)
    fake = MailchimpFake(events, clock, KEY)
    async with connected(fake, clock, key="deadbeefdeadbeefdeadbeefdeadbeef-us6") as connector:
        with pytest.raises(SourceAuthError, match=r"HTTP 401.*data centre"):
            await connector.collect(window(date(2026, 3, 1)), {})
    assert fake.requests == 1


async def test_an_unknown_list_is_a_404_problem(events: list[MailchimpMember]) -> None:
    clock = FakeClock(NOW)
    async with running(MailchimpFake(events, clock, KEY).app()) as url:
        context = ConnectorContext(source="mailchimp", timezone=LONDON, clock=clock)
        settings = MailchimpSettings(connector="mailchimp", api_key=KEY, list_id="nope000000", base_url=url)
        connector = MailchimpConnector(settings, context)
        with pytest.raises(SourceRequestError, match="no audience 'nope000000'"):
            await connector.check()
        await connector.aclose()


async def test_too_many_connections_is_retried(events: list[MailchimpMember]) -> None:
    clock = FakeClock(NOW)
    observer = RecordingObserver()
    fake = MailchimpFake(events, clock, KEY)
    fake.throttle_next(2)
    sync_window = window(date(2026, 3, 1))
    async with connected(fake, clock, observer=observer) as connector:
        result = await connector.collect(sync_window, {})
    assert observer.codes == ["429", "429", "200"]
    assert len(clock.sleeps) == 2
    truth = expected_counts(events, LONDON, sync_window.start, sync_window.end)
    assert {(c.metric, c.subject, c.day): c.value for c in result.counts} == truth


async def test_the_fake_answers_problem_json(events: list[MailchimpMember]) -> None:
    clock = FakeClock(NOW)
    fake = MailchimpFake(events, clock, KEY)
    async with running(fake.app()) as url, httpx.AsyncClient(auth=("any", KEY)) as client:
        answer = await client.get(f"{url}/lists/{DEMO_LIST_ID}/members", params={"count": "1001"})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert set(answer.json()) == {"type", "title", "status", "detail", "instance"}
