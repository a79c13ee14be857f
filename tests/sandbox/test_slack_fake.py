"""The Slack connector against the Slack fake on a real loopback port: counts equal the ground truth."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import ConnectorContext, SyncWindow
from connectors.slack import SlackConnector, SlackSettings
from syncd.errors import SourceAuthError, SourceRequestError
from syncd.sandbox.slack import (
    ALICE_SLACK_ID,
    DEMO_SLACK_CHANNELS,
    SlackFake,
    SlackMessage,
    demo_events,
    expected_counts,
)
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
TOKEN = "xoxb-1111-2222-demotoken"
CHANNELS = list(DEMO_SLACK_CHANNELS)


running = partial(serve, root="/api")


@pytest.fixture
def events() -> list[SlackMessage]:
    return demo_events(3, date(2026, 2, 20), date(2026, 3, 21), NEW_YORK)


def window(first: date) -> SyncWindow:
    return SyncWindow(start=datetime.combine(first, datetime.min.time(), tzinfo=NEW_YORK), end=NOW, timezone=NEW_YORK)


async def collect(
    fake: SlackFake, clock: FakeClock, span: SyncWindow, observer: RecordingObserver, **settings: object
) -> dict[tuple[str, str, date], float]:
    async with running(fake.app()) as url:
        context = ConnectorContext(source="slack", timezone=NEW_YORK, clock=clock, observer=observer)
        connector = SlackConnector(
            SlackSettings.model_validate(
                {"connector": "slack", "api_key": TOKEN, "base_url": url, "channels": CHANNELS, **settings}
            ),
            context,
        )
        try:
            result = await connector.collect(span, {})
        finally:
            await connector.aclose()
    return {(c.metric, c.subject, c.day): c.value for c in result.counts}


def test_demo_events_are_deterministic_and_hold_messages_not_to_count() -> None:
    first = demo_events(3, date(2026, 3, 2), date(2026, 3, 6), NEW_YORK)
    assert first == demo_events(3, date(2026, 3, 2), date(2026, 3, 6), NEW_YORK)
    assert first != demo_events(4, date(2026, 3, 2), date(2026, 3, 6), NEW_YORK)
    assert any(m.subtype == "bot_message" for m in first)


async def test_counts_equal_the_ground_truth(events: list[SlackMessage]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    fake = SlackFake(events, clock, TOKEN)
    span = window(date(2026, 3, 2))
    collected = await collect(fake, clock, span, observer)
    truth = expected_counts(events, NEW_YORK, span.start, span.end)
    assert collected == truth
    assert truth[("messages_sent", ALICE_SLACK_ID, date(2026, 3, 2))] > 0
    assert len(observer.codes) > len(CHANNELS)  # #growth needed more than one page of 200
    assert fake.rate_limited == 0


async def test_non_marketplace_pace_of_one_a_minute_earns_no_429(events: list[SlackMessage]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    fake = SlackFake(events, clock, TOKEN, non_marketplace=True)
    span = window(date(2026, 3, 19))
    collected = await collect(fake, clock, span, observer, requests_per_minute=1, page_size=15)
    assert collected == expected_counts(events, NEW_YORK, span.start, span.end)
    assert fake.rate_limited == 0
    assert len(clock.sleeps) == len(observer.codes) - 1
    assert all(s == pytest.approx(61.0) for s in clock.sleeps)


async def test_too_fast_a_pace_waits_out_retry_after(events: list[SlackMessage]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    fake = SlackFake(events, clock, TOKEN, non_marketplace=True)
    span = window(date(2026, 3, 19))
    # Configured for Tier 3 against a 1-per-minute app: every request after the first gets a 429.
    collected = await collect(fake, clock, span, observer)
    assert collected == expected_counts(events, NEW_YORK, span.start, span.end)
    assert fake.rate_limited == observer.codes.count("429") > 0
    assert all(s == 60.0 for s in clock.sleeps)


async def test_a_bad_token_is_ok_false_and_fails_after_one_request(events: list[SlackMessage]) -> None:
    clock = FakeClock(NOW)
    fake = SlackFake(events, clock, TOKEN)
    async with running(fake.app()) as url:
        observer = RecordingObserver()
        context = ConnectorContext(source="slack", timezone=NEW_YORK, clock=clock, observer=observer)
        connector = SlackConnector(
            SlackSettings(connector="slack", api_key="xoxb-wrong", base_url=url, channels=CHANNELS), context
        )
        with pytest.raises(SourceAuthError, match="invalid_auth"):
            await connector.collect(window(date(2026, 3, 2)), {})
        await connector.aclose()
    assert observer.codes == ["200"]


async def test_an_unknown_channel_is_a_request_error(events: list[SlackMessage]) -> None:
    clock = FakeClock(NOW)
    fake = SlackFake(events, clock, TOKEN)
    async with running(fake.app()) as url:
        context = ConnectorContext(source="slack", timezone=NEW_YORK, clock=clock)
        connector = SlackConnector(
            SlackSettings(connector="slack", api_key=TOKEN, base_url=url, channels=["C0NOPE"]), context
        )
        with pytest.raises(SourceRequestError, match="channel_not_found"):
            await connector.collect(window(date(2026, 3, 2)), {})
        await connector.check()  # auth.test still answers ok
        await connector.aclose()


async def test_the_fake_treats_bounds_as_exclusive_unless_inclusive(events: list[SlackMessage]) -> None:
    clock = FakeClock(NOW)
    edge = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)
    fake = SlackFake([SlackMessage("C07GROWTH1", edge, ALICE_SLACK_ID, "hi")], clock, TOKEN)
    ts = f"{int(edge.timestamp())}.000000"
    async with running(fake.app()) as url, httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        params = {"channel": "C07GROWTH1", "oldest": ts}
        exclusive = (await http.get(f"{url}/conversations.history", params=params)).json()
        inclusive = (await http.get(f"{url}/conversations.history", params={**params, "inclusive": "true"})).json()
    assert exclusive["messages"] == []
    assert [m["ts"] for m in inclusive["messages"]] == [ts]
