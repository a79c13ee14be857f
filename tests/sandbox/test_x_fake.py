"""The X connector against the X fake on a real loopback port: counts equal the ground truth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from functools import partial
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import ConnectorContext, SyncWindow
from connectors.x import XConnector, XSettings
from syncd.errors import SourceAuthError, SourceRateLimited
from syncd.sandbox.x import (
    ALICE_X_ID,
    BOB_X_ID,
    CAROL_X_ID,
    DM_EVENTS_LIMIT,
    XDmEvent,
    XFake,
    demo_events,
    expected_counts,
)
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
ALICE_TOKEN, CAROL_TOKEN = "x-alice-token-0001", "x-carol-token-0003"


running = partial(serve, root="/2")


@pytest.fixture
def events() -> list[XDmEvent]:
    # Starts 38 days before NOW: the fake must hide what is older than 30 days.
    return demo_events(7, date(2026, 2, 10), date(2026, 3, 21), NEW_YORK)


@asynccontextmanager
async def connected(
    fake: XFake, clock: FakeClock, token: str, observer: RecordingObserver | None = None
) -> AsyncIterator[tuple[XConnector, str]]:
    async with running(fake.app()) as url:
        context = ConnectorContext(source="x", timezone=NEW_YORK, clock=clock, observer=observer or RecordingObserver())
        connector = XConnector(XSettings(connector="x", api_key=token, base_url=url), context)
        try:
            yield connector, url
        finally:
            await connector.aclose()


def window(start_day: date) -> SyncWindow:
    return SyncWindow(
        start=datetime.combine(start_day, datetime.min.time(), tzinfo=NEW_YORK), end=NOW, timezone=NEW_YORK
    )


def of(subject: str, counts: dict[tuple[str, str, date], float]) -> dict[tuple[str, str, date], float]:
    return {k: v for k, v in counts.items() if k[1] == subject}


def test_demo_events_are_deterministic_and_hold_received_dms() -> None:
    first = demo_events(7, date(2026, 3, 2), date(2026, 3, 6), NEW_YORK)
    assert first == demo_events(7, date(2026, 3, 2), date(2026, 3, 6), NEW_YORK)
    assert first != demo_events(8, date(2026, 3, 2), date(2026, 3, 6), NEW_YORK)
    received = [e for e in first if e.event_type == "MessageCreate" and e.sender_id != e.owner_id]
    assert received, "the demo must hold DMs received, which are not to be counted"


@pytest.mark.parametrize(("token", "subject"), [(ALICE_TOKEN, ALICE_X_ID), (CAROL_TOKEN, CAROL_X_ID)])
async def test_counts_equal_the_ground_truth(events: list[XDmEvent], token: str, subject: str) -> None:
    clock = FakeClock(NOW)
    fake = XFake(events, clock, ALICE_TOKEN, extra_tokens={CAROL_TOKEN: CAROL_X_ID})
    start = window(date(2026, 3, 1))
    observer = RecordingObserver()
    async with connected(fake, clock, token, observer) as (connector, _):
        result = await connector.collect(start, {})
    collected = {(c.metric, c.subject, c.day): c.value for c in result.counts}
    truth = of(subject, expected_counts(events, NEW_YORK, start.start, start.end))
    assert collected == truth
    assert sum(truth.values()) > 50
    assert len(observer.codes) >= 3  # users/me, then more than one page of dm_events
    assert fake.rate_limited == 0
    assert result.complete_from is None
    assert BOB_X_ID not in {c.subject for c in result.counts}


async def test_a_window_older_than_30_days_is_complete_only_from_the_oldest_whole_day(
    events: list[XDmEvent],
) -> None:
    clock = FakeClock(NOW)
    fake = XFake(events, clock, ALICE_TOKEN)
    start = window(date(2026, 2, 10))
    async with connected(fake, clock, ALICE_TOKEN) as (connector, _):
        result = await connector.collect(start, {})
    # NOW - 30 days is 2026-02-18 11:00 in New York: the 19th is the first whole day served.
    assert result.complete_from == date(2026, 2, 19)
    assert len(result.notes) == 1
    cutoff = datetime(2026, 2, 19, tzinfo=NEW_YORK)
    assert {(c.metric, c.subject, c.day): c.value for c in result.counts} == of(
        ALICE_X_ID, expected_counts(events, NEW_YORK, cutoff, NOW)
    )


async def test_a_bad_token_fails_after_one_request(events: list[XDmEvent]) -> None:
    clock = FakeClock(NOW)
    fake = XFake(events, clock, ALICE_TOKEN)
    async with running(fake.app()) as url:
        observer = RecordingObserver()
        context = ConnectorContext(source="x", timezone=NEW_YORK, clock=clock, observer=observer)
        connector = XConnector(XSettings(connector="x", api_key="x-wrong-token", base_url=url), context)
        with pytest.raises(SourceAuthError):
            await connector.collect(window(date(2026, 3, 1)), {})
        await connector.aclose()
    assert observer.codes == ["401"]


async def test_an_exhausted_quota_is_rate_limited_until_the_epoch_reset(events: list[XDmEvent]) -> None:
    clock = FakeClock(NOW)
    fake = XFake(events, clock, ALICE_TOKEN)
    async with connected(fake, clock, ALICE_TOKEN) as (connector, url):
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ALICE_TOKEN}"}) as other:
            for _ in range(DM_EVENTS_LIMIT):
                spent = await other.get(f"{url}/dm_events")
            assert spent.headers["x-rate-limit-remaining"] == "0"
            assert spent.headers["x-rate-limit-reset"] == str(int(NOW.timestamp()) + 900)
        clock.advance(100)
        with pytest.raises(SourceRateLimited) as caught:
            await connector.collect(window(date(2026, 3, 1)), {})
        assert caught.value.retry_after == pytest.approx(800.0)
        assert fake.rate_limited == 1
        clock.advance(800)
        result = await connector.collect(window(date(2026, 3, 1)), {})
    start = window(date(2026, 3, 1))
    assert {(c.metric, c.subject, c.day): c.value for c in result.counts} == of(
        ALICE_X_ID, expected_counts(events, NEW_YORK, start.start, start.end)
    )
    assert fake.rate_limited == 1
