"""The Ahrefs connector against the Ahrefs fake on a real loopback port: counts equal the ground truth."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.ahrefs import AhrefsConnector, AhrefsSettings
from connectors.base import ConnectorContext, SyncWindow
from syncd.errors import SourceAuthError
from syncd.sandbox.ahrefs import (
    AHREFS_RATE_LIMIT,
    DEMO_TARGET,
    HELD_BEFORE_HISTORY,
    AhrefsFake,
    AhrefsLink,
    demo_events,
    expected_counts,
    referring_domains_held,
)
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
KEY = "ahrefs_demo_key_0123456789"


running = partial(serve, root="/v3")


def connector(url: str, clock: FakeClock, observer: RecordingObserver, key: str = KEY) -> AhrefsConnector:
    context = ConnectorContext(source="ahrefs", timezone=LONDON, clock=clock, observer=observer)
    settings = AhrefsSettings(connector="ahrefs", api_key=key, base_url=url, target=DEMO_TARGET)
    return AhrefsConnector(settings, context)


def window(first: date) -> SyncWindow:
    return SyncWindow(start=datetime.combine(first, datetime.min.time(), tzinfo=LONDON), end=NOW, timezone=LONDON)


async def collect(url: str, clock: FakeClock, span: SyncWindow) -> dict[tuple[str, str, date], float]:
    ahrefs = connector(url, clock, RecordingObserver())
    try:
        result = await ahrefs.collect(span, {})
    finally:
        await ahrefs.aclose()
    return {(c.metric, c.subject, c.day): c.value for c in result.counts}


def test_demo_events_are_deterministic_and_fold_similar_links() -> None:
    first = demo_events(3, date(2026, 11, 1), date(2026, 11, 14), LONDON)
    assert first == demo_events(3, date(2026, 11, 1), date(2026, 11, 14), LONDON)
    assert first != demo_events(4, date(2026, 11, 1), date(2026, 11, 14), LONDON)
    assert any(e.similar_group for e in first)


async def test_counts_equal_the_ground_truth() -> None:
    events = demo_events(3, date(2026, 10, 20), date(2026, 11, 20), LONDON)  # some after NOW: not served
    clock = FakeClock(NOW)
    span = window(date(2026, 10, 20))  # crosses the end of British Summer Time on 25 October
    async with running(AhrefsFake(events, clock, KEY).app()) as url:
        collected = await collect(url, clock, span)
    truth = expected_counts(events, LONDON, span.start, span.end)
    assert collected == truth
    assert sum(v for k, v in truth.items() if k[0] == "new_backlinks") > sum(
        v for k, v in truth.items() if k[0] == "new_referring_domains"
    )


async def test_more_rows_than_a_response_holds_are_read_by_narrowing() -> None:
    start = datetime(2026, 11, 2, tzinfo=LONDON)
    # 2,500 domains, one every 40 seconds from midnight: 1,000 rows a response needs three requests.
    events = [
        AhrefsLink("refdomain", DEMO_TARGET, start + timedelta(seconds=40 * i), f"site{i}.com") for i in range(2500)
    ]
    clock, observer = FakeClock(NOW), RecordingObserver()
    span = SyncWindow(start=start, end=start + timedelta(days=2), timezone=LONDON)
    async with running(AhrefsFake(events, clock, KEY).app()) as url:
        ahrefs = connector(url, clock, observer)
        result = await ahrefs.collect(span, {})
        await ahrefs.aclose()
    collected = {(c.metric, c.subject, c.day): c.value for c in result.counts}
    # 86,400 / 40 = 2,160 on the 2nd, the other 340 on the 3rd.
    assert collected == {
        ("new_referring_domains", DEMO_TARGET, date(2026, 11, 2)): 2160.0,
        ("new_referring_domains", DEMO_TARGET, date(2026, 11, 3)): 340.0,
    }
    assert collected == expected_counts(events, LONDON, span.start, span.end)
    assert observer.codes == ["200"] * 4  # three refdomains requests, one all-backlinks


async def test_a_bad_key_is_an_auth_error() -> None:
    clock = FakeClock(NOW)
    async with running(AhrefsFake([], clock, KEY).app()) as url:
        ahrefs = connector(url, clock, RecordingObserver(), key="wrong_key_0123456789")
        with pytest.raises(SourceAuthError, match="HTTP 401"):
            await ahrefs.check()
        await ahrefs.aclose()


async def test_the_connector_stays_within_60_a_minute_which_the_fake_enforces() -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    async with running(AhrefsFake([], clock, KEY).app()) as url:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
            answers = [
                (await http.get(f"{url}/subscription-info/limits-and-usage")).status_code
                for _ in range(AHREFS_RATE_LIMIT + 1)
            ]
            over = await http.get(f"{url}/subscription-info/limits-and-usage")
        assert answers == [200] * AHREFS_RATE_LIMIT + [429]
        assert over.json() == {"error": "Too many requests"}
        assert "retry-after" not in over.headers
        clock.advance(60.0)
        ahrefs = connector(url, clock, observer)
        for _ in range(AHREFS_RATE_LIMIT + 1):
            await ahrefs.check()
        await ahrefs.aclose()
    assert observer.codes == ["200"] * (AHREFS_RATE_LIMIT + 1)
    assert clock.sleeps == [60.0]


async def test_the_fake_folds_similar_links_unless_aggregation_is_all() -> None:
    events = demo_events(3, date(2026, 11, 1), date(2026, 11, 10), LONDON)
    backlinks = [e for e in events if e.kind == "backlink"]
    where = json.dumps({"field": "first_seen_link", "is": ["lt", "2026-11-11T00:00:00Z"]})
    params = {"target": DEMO_TARGET, "select": "url_from,first_seen_link", "where": where, "limit": "5000"}
    auth = {"Authorization": f"Bearer {KEY}"}
    async with running(AhrefsFake(events, FakeClock(NOW), KEY).app()) as url, httpx.AsyncClient(headers=auth) as http:
        folded = (await http.get(f"{url}/site-explorer/all-backlinks", params=params)).json()
        every = (await http.get(f"{url}/site-explorer/all-backlinks", params={**params, "aggregation": "all"})).json()
    assert len(every["backlinks"]) == len(backlinks)
    assert len(folded["backlinks"]) < len(backlinks)


async def test_referring_domains_held_equal_the_ground_truth() -> None:
    events = demo_events(3, date(2026, 10, 20), date(2026, 11, 20), LONDON)
    clock = FakeClock(NOW)
    span = window(date(2026, 11, 1))
    context = ConnectorContext(
        source="ahrefs",
        timezone=LONDON,
        clock=clock,
        observer=RecordingObserver(),
        metrics=frozenset({"referring_domains"}),
    )
    async with running(AhrefsFake(events, clock, KEY).app()) as url:
        settings = AhrefsSettings(connector="ahrefs", api_key=KEY, base_url=url, target=DEMO_TARGET)
        ahrefs = AhrefsConnector(settings, context)
        try:
            result = await ahrefs.collect(span, {})
        finally:
            await ahrefs.aclose()
    held = {c.day: c.value for c in result.counts if c.metric == "referring_domains"}
    truth = referring_domains_held(events, DEMO_TARGET, span.first_day, NOW.astimezone(UTC).date())
    assert held == {day: float(level) for day, level in truth.items()}
    assert held[span.first_day] > HELD_BEFORE_HISTORY  # October's new domains are already held
