"""The Mailshake connector against the Mailshake fake on a real loopback port."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import ConnectorContext, SyncWindow
from connectors.mailshake import MailshakeConnector, MailshakeSettings
from syncd.errors import SourceAuthError, SourceRateLimited
from syncd.sandbox.mailshake import MAILSHAKE_QUOTA, MailshakeEvent, MailshakeFake, demo_events, expected_counts
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

KEY = "mailshake-fake-key-0123456789"
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)


running = serve


def connector(base: str, clock: FakeClock, observer: RecordingObserver, key: str = KEY) -> MailshakeConnector:
    settings = MailshakeSettings.model_validate(
        {"connector": "mailshake", "api_key": key, "base_url": f"{base}/2017-04-01"}
    )
    context = ConnectorContext(source="mailshake", timezone=NEW_YORK, clock=clock, observer=observer)
    return MailshakeConnector(settings, context)


@pytest.fixture
def events() -> list[MailshakeEvent]:
    return demo_events(3, date(2026, 3, 2), date(2026, 3, 13), NEW_YORK)


async def test_counts_equal_the_ground_truth_within_the_quota(events: list[MailshakeEvent]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    start, end = datetime(2026, 3, 4, tzinfo=NEW_YORK), datetime(2026, 3, 11, tzinfo=NEW_YORK)
    async with running(MailshakeFake(events, clock, KEY)) as base:
        mailshake = connector(base, clock, observer)
        result = await mailshake.collect(SyncWindow(start, end, NEW_YORK), {})
        await mailshake.aclose()
    collected = {(c.metric, c.subject, c.day): c.value for c in result.counts}
    expected = expected_counts(events, NEW_YORK, start, end)
    assert collected == expected
    assert sum(v for (m, _, _), v in expected.items() if m == "emails_sent") > 150
    assert any(m == "replies" for m, _, _ in expected)
    assert set(observer.codes) == {"200"}
    # The feeds are newest first: pages older than the window are not read.
    sent_total = sum(1 for e in events if e.kind == "sent")
    assert len(observer.codes) < sent_total // 100 + 1 + 2
    # One request per 3 s, never more.
    assert all(s <= 3.0 for s in clock.sleeps)


async def test_a_bad_key_fails_with_one_request(events: list[MailshakeEvent]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    async with running(MailshakeFake(events, clock, KEY)) as base:
        mailshake = connector(base, clock, observer, key="not-the-key-000")
        with pytest.raises(SourceAuthError):
            await mailshake.check()
        await mailshake.aclose()
    assert observer.codes == ["401"]


async def test_a_spent_quota_is_rate_limited(events: list[MailshakeEvent]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    async with running(MailshakeFake(events, clock, KEY)) as base:
        async with httpx.AsyncClient(auth=(KEY, "")) as other:
            for _ in range(MAILSHAKE_QUOTA):
                assert (await other.get(f"{base}/2017-04-01/me")).status_code == 200
            spent = await other.get(f"{base}/2017-04-01/me")
        assert spent.json()["code"] == "limit_reached"
        mailshake = connector(base, clock, observer)
        with pytest.raises(SourceRateLimited):
            await mailshake.check()
        await mailshake.aclose()
    # Five attempts with backoff (about 15 s in all) stay inside the quota's minute.
    assert observer.codes == ["429"] * 5
