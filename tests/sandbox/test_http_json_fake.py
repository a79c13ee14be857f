"""The http_json connector against the generic calls fake on a real loopback port, both ways."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from connectors.base import ConnectorContext, SyncWindow
from connectors.http_json import HttpJsonConnector, HttpJsonSettings
from syncd.errors import SourceAuthError
from syncd.sandbox.http_json import Call, HttpJsonFake, demo_events, expected_counts
from tests.connectors.conftest import FakeClock, RecordingObserver
from tests.sandbox.loopback import serve

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
KEY = "calls-demo-key-0001"
DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "http_json.md"


def documented_source(example: int, name: str) -> dict[str, object]:
    """Return source `name` of the doc's `example`th YAML block, with the demo key filled in."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    document = yaml.safe_load(blocks[example - 1].replace("${CALLS_API_KEY}", KEY))
    source: dict[str, object] = document["sources"][name]
    return source


# The two worked examples of docs/connectors/http_json.md, pointed at the fake by base_url.
CALLS_LIST = documented_source(1, "calls")
CALLS_COUNT = documented_source(2, "alice_calls")


running = serve


async def collect(
    config: dict[str, object], url: str, clock: FakeClock, sync_window: SyncWindow, observer: RecordingObserver
) -> dict[tuple[str, str, date], float]:
    context = ConnectorContext(source="calls", timezone=LONDON, clock=clock, observer=observer)
    connector = HttpJsonConnector(HttpJsonSettings.model_validate({**config, "base_url": url}), context)
    try:
        result = await connector.collect(sync_window, {})
    finally:
        await connector.aclose()
    return {(c.metric, c.subject, c.day): c.value for c in result.counts}


@pytest.fixture
def events() -> list[Call]:
    # From January: ten weeks of the team's calls run to more than one page of 100.
    return demo_events(11, date(2026, 1, 1), date(2026, 3, 22), LONDON)


def window(first: date) -> SyncWindow:
    return SyncWindow(start=datetime(first.year, first.month, first.day, tzinfo=LONDON), end=NOW, timezone=LONDON)


def test_demo_events_are_deterministic() -> None:
    first = demo_events(11, date(2026, 3, 2), date(2026, 3, 13), LONDON)
    assert first == demo_events(11, date(2026, 3, 2), date(2026, 3, 13), LONDON)
    assert first != demo_events(12, date(2026, 3, 2), date(2026, 3, 13), LONDON)


async def test_cursor_list_equals_the_ground_truth(events: list[Call]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    fake = HttpJsonFake(events, clock, KEY)
    sync_window = window(date(2026, 1, 5))
    async with running(fake.app()) as url:
        counts = await collect(CALLS_LIST, url, clock, sync_window, observer)
    assert counts == expected_counts(events, LONDON, sync_window.start, sync_window.end)
    assert fake.requests > 1
    assert "429" not in observer.codes


async def test_daily_counts_equal_the_ground_truth(events: list[Call]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    fake = HttpJsonFake(events, clock, KEY)
    sync_window = window(date(2026, 3, 2))
    async with running(fake.app()) as url:
        counts = await collect(CALLS_COUNT, url, clock, sync_window, observer)
    truth = {
        key: value
        for key, value in expected_counts(events, LONDON, sync_window.start, sync_window.end).items()
        if key[1] == "alice@acme.io"
    }
    # Days without calls come back as explicit zeros.
    assert {key: value for key, value in counts.items() if value} == truth
    assert len(counts) == 19  # 2 to 20 March
    assert fake.requests == 19
    # 19 requests at 10 a second: one wait, and the fake never had to refuse.
    assert "429" not in observer.codes
    assert clock.sleeps == [1.0]


async def test_without_a_rate_limit_the_fakes_429_is_waited_out(events: list[Call]) -> None:
    clock, observer = FakeClock(NOW), RecordingObserver()
    fake = HttpJsonFake(events, clock, KEY)
    sync_window = window(date(2026, 3, 2))
    unpaced = {k: v for k, v in CALLS_COUNT.items() if k != "rate_limit"}
    async with running(fake.app()) as url:
        counts = await collect(unpaced, url, clock, sync_window, observer)
    assert observer.codes.count("429") == 1
    assert clock.sleeps == [1.0]
    assert len(counts) == 19


async def test_a_wrong_key_fails_after_one_request(events: list[Call]) -> None:
    clock = FakeClock(NOW)
    fake = HttpJsonFake(events, clock, KEY)
    async with running(fake.app()) as url:
        context = ConnectorContext(source="calls", timezone=LONDON, clock=clock)
        config = HttpJsonSettings.model_validate({**CALLS_LIST, "base_url": url, "api_key": "wrong-key-0000"})
        connector = HttpJsonConnector(config, context)
        with pytest.raises(SourceAuthError, match="HTTP 401"):
            await connector.check()
        await connector.aclose()
    assert fake.requests == 1


def test_the_growth_team_s_calls_are_booked_by_their_outreach_replies() -> None:
    from syncd.sandbox.activity import GeneratedActivity
    from syncd.sandbox.http_json import BOOKING_RATES

    first, last = date(2026, 1, 1), date(2026, 3, 22)
    calls = demo_events(11, first, last, LONDON)
    until = datetime(2026, 3, 23, tzinfo=LONDON)
    replies = [a for a in GeneratedActivity(11, first, LONDON).lemlist_activities(until) if a.type == "emailsReplied"]
    for owner, rate in BOOKING_RATES.items():
        theirs = [r for r in replies if r.send_user_email == owner]
        held = [c for c in calls if c.owner == owner]
        # A reply books at most one call, held one to three working days later: never more calls than replies.
        assert 0 < len(held) <= len(theirs)
        assert abs(len(held) - rate * len(theirs)) <= 2, (owner, len(held), len(theirs))
        assert min(c.created_at for c in held) > min(r.created_at for r in theirs)
