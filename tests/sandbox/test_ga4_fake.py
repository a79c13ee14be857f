"""The GA4 connector against the GA4 fake on a real loopback port: counts equal the ground truth."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import CollectResult, ConnectorContext, SyncWindow
from connectors.ga4 import Ga4Connector, Ga4Settings
from syncd.errors import SourceAuthError, SourceRateLimited
from syncd.sandbox.ga4 import DEMO_PROPERTY_ID, Ga4Fake, Ga4Session, demo_events, expected_counts
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
TOKEN = "ya29.demo-ga4-token-0123456789"


running = partial(serve, root="/v1beta")


def window(first: date) -> SyncWindow:
    return SyncWindow(start=datetime.combine(first, datetime.min.time(), tzinfo=LONDON), end=NOW, timezone=LONDON)


def connector(url: str, clock: FakeClock, observer: RecordingObserver | None = None, **extra: str) -> Ga4Connector:
    context = ConnectorContext(source="ga4", timezone=LONDON, clock=clock, observer=observer or RecordingObserver())
    fields = {"connector": "ga4", "api_key": TOKEN, "base_url": url, "property_id": DEMO_PROPERTY_ID, **extra}
    return Ga4Connector(Ga4Settings.model_validate(fields), context)


async def collect(ga4: Ga4Connector, span: SyncWindow) -> CollectResult:
    try:
        return await ga4.collect(span, {})
    finally:
        await ga4.aclose()


def test_demo_events_are_deterministic() -> None:
    first = demo_events(2, date(2026, 11, 1), date(2026, 11, 7), LONDON)
    assert first == demo_events(2, date(2026, 11, 1), date(2026, 11, 7), LONDON)
    assert first != demo_events(3, date(2026, 11, 1), date(2026, 11, 7), LONDON)


async def test_counts_equal_the_ground_truth() -> None:
    events = demo_events(2, date(2026, 10, 20), date(2026, 11, 20), LONDON)  # the days after NOW are not served
    clock = FakeClock(NOW)
    span = window(date(2026, 10, 20))  # crosses the end of British Summer Time on 25 October
    async with running(Ga4Fake(events, clock, TOKEN, property_zone=LONDON).app()) as url:
        result = await collect(connector(url, clock), span)
    truth = expected_counts(events, LONDON, span.start, span.end)
    assert {(c.metric, c.subject, c.day): c.value for c in result.counts} == truth
    assert result.notes == ()
    assert (
        truth[("sessions", DEMO_PROPERTY_ID, date(2026, 11, 18))]
        < truth[("sessions", DEMO_PROPERTY_ID, date(2026, 11, 17))]
    )


async def test_days_are_the_propertys_and_a_different_zone_is_noted() -> None:
    # 23:30 on 1 November in London is 15:30 in Los Angeles: the property files it under the 1st too,
    # but 02:00 on the 2nd in London is still the 1st (18:00) in Los Angeles.
    events = [
        Ga4Session(DEMO_PROPERTY_ID, datetime(2026, 11, 1, 23, 30, tzinfo=LONDON), "u1"),
        Ga4Session(DEMO_PROPERTY_ID, datetime(2026, 11, 2, 2, 0, tzinfo=LONDON), "u1"),
    ]
    clock = FakeClock(NOW)
    fake = Ga4Fake(events, clock, TOKEN, property_zone=ZoneInfo("America/Los_Angeles"))
    async with running(fake.app()) as url:
        result = await collect(connector(url, clock), window(date(2026, 11, 1)))
    assert {(c.metric, c.day): c.value for c in result.counts} == {
        ("sessions", date(2026, 11, 1)): 2.0,
        ("total_users", date(2026, 11, 1)): 1.0,
    }
    assert len(result.notes) == 1
    assert "America/Los_Angeles" in result.notes[0]


async def test_a_bad_token_and_another_property_are_auth_errors() -> None:
    clock = FakeClock(NOW)
    async with running(Ga4Fake([], clock, TOKEN).app()) as url:
        with pytest.raises(SourceAuthError, match="HTTP 401"):
            await collect(connector(url, clock, api_key="ya29.wrong-token-00000"), window(date(2026, 11, 1)))
        with pytest.raises(SourceAuthError, match="HTTP 403"):
            await collect(connector(url, clock, property_id="987654321"), window(date(2026, 11, 1)))


async def test_exhausted_tokens_are_a_rate_limit() -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    fake = Ga4Fake(demo_events(2, date(2026, 11, 1), date(2026, 11, 18), LONDON), clock, TOKEN, tokens_per_hour=3)
    async with running(fake.app()) as url:
        first = await collect(connector(url, clock, observer), window(date(2026, 11, 1)))
        assert first.counts
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            body = {"dateRanges": [{"startDate": "today", "endDate": "today"}], "metrics": [{"name": "sessions"}]}
            over = await http.post(f"{url}/properties/{DEMO_PROPERTY_ID}:runReport", json=body)
        assert over.status_code == 429
        assert over.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        with pytest.raises(SourceRateLimited, match="gave up after 5 attempts"):
            await collect(connector(url, clock, observer), window(date(2026, 11, 1)))
    assert observer.codes == ["200"] + ["429"] * 5
