"""The HubSpot connector against the HubSpot fake on a real loopback port."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import ConnectorContext, SyncWindow
from connectors.hubspot import HubspotConnector, HubspotSettings
from syncd.errors import SourceAuthError
from syncd.sandbox.hubspot import DEMO_FORMS, HubspotEvent, HubspotFake, demo_events, expected_counts
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

KEY = "pat-na1-hubspot-fake-token-0123"
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
SEARCH = "/crm/v3/objects/emails/search"


running = serve


def connector(base: str, clock: FakeClock, observer: RecordingObserver, key: str = KEY) -> HubspotConnector:
    settings = HubspotSettings.model_validate(
        {"connector": "hubspot", "api_key": key, "base_url": base, "form_ids": list(DEMO_FORMS)}
    )
    context = ConnectorContext(source="hubspot", timezone=NEW_YORK, clock=clock, observer=observer)
    return HubspotConnector(settings, context)


@pytest.fixture
def events() -> list[HubspotEvent]:
    return demo_events(5, date(2026, 2, 2), date(2026, 3, 15), NEW_YORK)


async def test_counts_equal_the_ground_truth(events: list[HubspotEvent]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    start, end = datetime(2026, 2, 9, tzinfo=NEW_YORK), datetime(2026, 3, 9, tzinfo=NEW_YORK)
    async with running(HubspotFake(events, clock, KEY)) as base:
        hubspot = connector(base, clock, observer)
        result = await hubspot.collect(SyncWindow(start, end, NEW_YORK), {})
        await hubspot.aclose()
    collected = {(c.metric, c.subject, c.day): c.value for c in result.counts}
    expected = expected_counts(events, NEW_YORK, start, end)
    assert collected == expected
    assert sum(v for (m, _, _), v in expected.items() if m == "emails_sent") > 200  # two pages or more
    assert {s for m, s, _ in expected if m == "form_submissions"} == set(DEMO_FORMS)
    assert set(observer.codes) == {"200"}  # paced at 4 a second: the fake never said 429


async def test_a_bad_token_fails_with_one_request(events: list[HubspotEvent]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    async with running(HubspotFake(events, clock, KEY)) as base:
        hubspot = connector(base, clock, observer, key="pat-na1-wrong-token-000")
        with pytest.raises(SourceAuthError):
            await hubspot.check()
        await hubspot.aclose()
    assert observer.codes == ["401"]


async def test_a_secondly_limit_is_waited_out(events: list[HubspotEvent]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    start, end = datetime(2026, 3, 2, tzinfo=NEW_YORK), datetime(2026, 3, 3, tzinfo=NEW_YORK)
    async with running(HubspotFake(events, clock, KEY)) as base:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as other:
            for _ in range(4):
                assert (await other.post(f"{base}{SEARCH}", json={"limit": 1})).status_code == 200
            spent = await other.post(f"{base}{SEARCH}", json={"limit": 1})
        assert spent.status_code == 429
        assert spent.json()["errorType"] == "RATE_LIMIT"
        hubspot = connector(base, clock, observer)
        result = await hubspot.collect(SyncWindow(start, end, NEW_YORK), {})
        await hubspot.aclose()
    assert observer.codes[:2] == ["429", "200"]
    assert {(c.metric, c.subject, c.day): c.value for c in result.counts} == expected_counts(
        events, NEW_YORK, start, end
    )
