"""The Stripe connector against the Stripe fake on a real loopback port: counts equal the ground truth."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import ConnectorContext, SyncWindow
from connectors.stripe import StripeConnector, StripeSettings
from syncd.errors import SourceAuthError
from syncd.sandbox.stripe import STRIPE_RATE_LIMIT, StripeFake, StripeObject, demo_events, expected_counts
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
KEY = "sk_test_51DemoKey000000000000"


running = partial(serve, root="/v1")


@pytest.fixture
def events() -> list[StripeObject]:
    return demo_events(5, date(2026, 1, 1), date(2026, 3, 21), NEW_YORK)


def window(first: date) -> SyncWindow:
    return SyncWindow(start=datetime.combine(first, datetime.min.time(), tzinfo=NEW_YORK), end=NOW, timezone=NEW_YORK)


async def collect(
    url: str, clock: FakeClock, span: SyncWindow, observer: RecordingObserver, key: str = KEY
) -> dict[tuple[str, str, date], float]:
    context = ConnectorContext(source="stripe", timezone=NEW_YORK, clock=clock, observer=observer)
    connector = StripeConnector(StripeSettings(connector="stripe", api_key=key, base_url=url), context)
    try:
        result = await connector.collect(span, {})
    finally:
        await connector.aclose()
    return {(c.metric, c.subject, c.day): c.value for c in result.counts}


def test_demo_events_are_deterministic_and_hold_canceled_subscriptions() -> None:
    first = demo_events(5, date(2026, 3, 1), date(2026, 3, 14), NEW_YORK)
    assert first == demo_events(5, date(2026, 3, 1), date(2026, 3, 14), NEW_YORK)
    assert first != demo_events(6, date(2026, 3, 1), date(2026, 3, 14), NEW_YORK)
    assert any(o.status == "canceled" for o in first)


async def test_counts_equal_the_ground_truth(events: list[StripeObject]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    fake = StripeFake(events, clock, KEY)
    span = window(date(2026, 2, 1))
    async with running(fake.app()) as url:
        collected = await collect(url, clock, span, observer)
    truth = expected_counts(events, NEW_YORK, span.start, span.end)
    assert collected == truth
    assert sum(v for k, v in truth.items() if k[0] == "new_customers") > 100  # two pages at least
    assert len(observer.codes) >= 3
    assert fake.rate_limited == 0


async def test_the_fake_hides_canceled_subscriptions_without_status_all(events: list[StripeObject]) -> None:
    fake = StripeFake(events, FakeClock(NOW), KEY)
    async with running(fake.app()) as url, httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
        default = (await http.get(f"{url}/subscriptions", params={"limit": 100})).json()
        every = (await http.get(f"{url}/subscriptions", params={"limit": 100, "status": "all"})).json()
        unknown = await http.get(f"{url}/subscriptions", params={"statuses": "all"})
    assert all(s["status"] != "canceled" for s in default["data"])
    assert any(s["status"] == "canceled" for s in every["data"])
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "parameter_unknown"


async def test_a_large_account_is_paced_under_the_limit() -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    start = datetime(2026, 3, 2, tzinfo=UTC)
    # 4,500 customers, one every 4 minutes: 45 pages, more than the fake's 25 a second.
    customers = [StripeObject("customer", f"cus_{i:014d}", start + timedelta(minutes=4 * i)) for i in range(4500)]
    fake = StripeFake(customers, clock, KEY)
    span = SyncWindow(start=start, end=NOW, timezone=ZoneInfo("UTC"))
    async with running(fake.app()) as url:
        collected = await collect(url, clock, span, observer)
    assert fake.rate_limited == 0
    assert len(observer.codes) == 46  # 45 pages of customers, one empty page of subscriptions
    assert collected == expected_counts(customers, ZoneInfo("UTC"), span.start, span.end)
    assert collected[("new_customers", "all", date(2026, 3, 2))] == 360.0


async def test_a_429_is_backed_off_and_retried(events: list[StripeObject]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    fake = StripeFake(events, clock, KEY)
    span = window(date(2026, 3, 9))
    async with running(fake.app()) as url:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as other:
            for _ in range(STRIPE_RATE_LIMIT):
                await other.get(f"{url}/customers", params={"limit": 1})
        collected = await collect(url, clock, span, observer)
    assert observer.codes[0] == "429"
    assert fake.rate_limited == 1
    assert 1.0 <= clock.sleeps[0] <= 2.0  # exponential backoff from 1 s, plus up to 1 s of jitter
    assert collected == expected_counts(events, NEW_YORK, span.start, span.end)


async def test_a_bad_key_fails_after_one_request(events: list[StripeObject]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    fake = StripeFake(events, clock, KEY)
    async with running(fake.app()) as url:
        with pytest.raises(SourceAuthError) as caught:
            await collect(url, clock, window(date(2026, 3, 9)), observer, key="sk_test_wrong000000000000")
    assert observer.codes == ["401"]
    assert "sk_test_wrong" not in str(caught.value)
