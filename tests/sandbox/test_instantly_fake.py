"""The Instantly connector against the Instantly fake on a real loopback port."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import ConnectorContext, SyncWindow
from connectors.instantly import InstantlyConnector, InstantlySettings
from syncd.errors import SourceAuthError
from syncd.sandbox.instantly import InstantlyEvent, InstantlyFake, demo_events, expected_counts
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

KEY = "instantly-fake-key-0123456789"
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
# 150 idle accounts besides alice, bob and carol: two pages of accounts, two analytics batches.
IDLE_ACCOUNTS = [f"idle{n:03d}@acme.io" for n in range(150)]


running = serve


def connector(base: str, clock: FakeClock, observer: RecordingObserver, key: str = KEY) -> InstantlyConnector:
    settings = InstantlySettings.model_validate(
        {"connector": "instantly", "api_key": key, "base_url": f"{base}/api/v2"}
    )
    context = ConnectorContext(source="instantly", timezone=UTC_ZONE, clock=clock, observer=observer)
    return InstantlyConnector(settings, context)


@pytest.fixture
def events() -> list[InstantlyEvent]:
    return demo_events(7, date(2026, 2, 23), date(2026, 3, 19), UTC_ZONE)


@pytest.mark.parametrize("zone", [UTC_ZONE, NEW_YORK])
async def test_counts_equal_the_ground_truth(events: list[InstantlyEvent], zone: ZoneInfo) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    # 26 days: one analytics request per batch of accounts.
    start, end = datetime(2026, 2, 23, tzinfo=zone), datetime(2026, 3, 21, tzinfo=zone)
    async with running(InstantlyFake(events, clock, KEY, accounts=IDLE_ACCOUNTS)) as base:
        instantly = connector(base, clock, observer)
        result = await instantly.collect(SyncWindow(start, end, zone), {})
        await instantly.aclose()
    collected = {(c.metric, c.subject, c.day): c.value for c in result.counts}
    expected = expected_counts(events, zone, start, end)
    assert collected == expected
    assert sum(v for (m, _, _), v in expected.items() if m == "emails_sent") > 500
    assert any(m == "replies" for m, _, _ in expected)
    assert observer.codes == ["200"] * 4  # two pages of accounts, two batches of analytics


async def test_a_long_window_is_read_in_31_day_pieces(events: list[InstantlyEvent]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 21, tzinfo=UTC)
    async with running(InstantlyFake(events, clock, KEY)) as base:
        instantly = connector(base, clock, observer)
        result = await instantly.collect(SyncWindow(start, end, UTC_ZONE), {})
        await instantly.aclose()
    assert {(c.metric, c.subject, c.day): c.value for c in result.counts} == expected_counts(
        events, UTC_ZONE, start, end
    )
    assert observer.codes == ["200"] * 4  # one page of accounts, 79 days in three pieces


async def test_a_bad_key_fails_with_one_request(events: list[InstantlyEvent]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    async with running(InstantlyFake(events, clock, KEY)) as base:
        instantly = connector(base, clock, observer, key="not-the-key-000")
        with pytest.raises(SourceAuthError):
            await instantly.check()
        await instantly.aclose()
    assert observer.codes == ["401"]


async def test_an_exhausted_workspace_budget_is_waited_out(events: list[InstantlyEvent]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    start, end = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)
    async with running(InstantlyFake(events, clock, KEY)) as base:
        # Another user of the workspace spends this second's 100 requests.
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as other:
            for _ in range(100):
                assert (await other.get(f"{base}/api/v2/accounts")).status_code == 200
            assert (await other.get(f"{base}/api/v2/accounts")).status_code == 429
        instantly = connector(base, clock, observer)
        result = await instantly.collect(SyncWindow(start, end, UTC_ZONE), {})
        await instantly.aclose()
    assert observer.codes == ["429", "200", "200"]
    assert clock.sleeps
    assert clock.sleeps[0] >= 1.0
    assert {(c.metric, c.subject, c.day): c.value for c in result.counts} == expected_counts(
        events, UTC_ZONE, start, end
    )
