"""The Slack connector against respx: cursors, `ok: false`, window edges, local days, 429s."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.slack import SlackConnector, SlackSettings, format_ts, parse_ts
from syncd.errors import SourceAuthError, SourceRequestError, SourceResponseError, SourceUnavailable
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://slack.com/api"
TOKEN = "xoxb-1234-5678-abcdefghijkl"
ALICE, BOB = "U07ALICE01", "U07BOB0002"
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def settings(**extra: object) -> SlackSettings:
    return SlackSettings.model_validate({"connector": "slack", "api_key": TOKEN, "channels": ["C1"], **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[SlackConnector]:
    slack = SlackConnector(settings(), context)
    yield slack
    await slack.aclose()


def message(at: datetime, user: str = ALICE, subtype: str | None = None) -> dict[str, object]:
    item: dict[str, object] = {"type": "message", "user": user, "text": "hello", "ts": format_ts(at)}
    if subtype:
        item["subtype"] = subtype
    return item


def serve(by_channel: dict[str, list[dict[str, object]]], size: int = 100) -> Callable[[httpx.Request], httpx.Response]:
    """Answer conversations.history like Slack: newest first, `size` a page, an opaque cursor."""

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        ordered = sorted(by_channel.get(params["channel"], []), key=lambda m: str(m["ts"]), reverse=True)
        offset = int(params.get("cursor", "c0").removeprefix("c"))
        page = ordered[offset : offset + size]
        more = offset + size < len(ordered)
        body = {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": f"c{offset + size}" if more else ""},
        }
        return httpx.Response(200, json=body)

    return handler


def utc_window(start: datetime, end: datetime) -> SyncWindow:
    return SyncWindow(start=start, end=end, timezone=UTC_ZONE)


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = SlackConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [(m.name, m.subject) for m in klass.metrics] == [("messages_sent", "the Slack user id")]
    assert klass.history_limit is None


def test_settings_need_channels_and_default_to_tier_3() -> None:
    with pytest.raises(pydantic.ValidationError, match="channels"):
        SlackSettings.model_validate({"connector": "slack", "api_key": TOKEN})
    with pytest.raises(pydantic.ValidationError, match="channels"):
        settings(channels=[])
    parsed = settings()
    assert (parsed.requests_per_minute, parsed.page_size) == (50, 200)
    assert TOKEN not in repr(parsed)


def test_ts_round_trips_exactly() -> None:
    at = datetime(2026, 3, 7, 16, 0, 0, 400, tzinfo=UTC)
    assert format_ts(at) == "1772899200.000400"
    assert parse_ts("1772899200.000400") == at
    assert format_ts(datetime(2026, 3, 7, tzinfo=NEW_YORK)) == "1772859600.000000"
    with pytest.raises(SourceResponseError):
        parse_ts("nan")


async def test_fixture_pages_count_people_not_joins_or_bots(connector: SlackConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/conversations.history").mock(
            side_effect=[
                httpx.Response(200, json=load_fixture("slack", "history_page1.json")),
                httpx.Response(200, json=load_fixture("slack", "history_page2.json")),
            ]
        )
        result = await connector.collect(
            utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert counts_of(result.counts) == {
        ("messages_sent", ALICE, date(2026, 3, 7)): 2.0,  # a message and a thread broadcast
        ("messages_sent", BOB, date(2026, 3, 7)): 1.0,
    }
    first, second = (call.request for call in route.calls)
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(first.url)
    assert dict(first.url.params) == {
        "channel": "C1",
        "oldest": "1772841600.000000",
        "latest": "1772928000.000000",
        "inclusive": "true",
        "limit": "200",
    }
    assert second.url.params["cursor"] == "bmV4dF90czoxNzcyODkyMDAwMDAwMjAw"


async def test_pages_every_channel_to_the_end(context: ConnectorContext) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    # C1: 450 messages, one every 10 minutes, alice on even, bob on odd; C2: 3 from bob.
    c1 = [message(start + timedelta(minutes=10 * i), ALICE if i % 2 == 0 else BOB) for i in range(450)]
    c2 = [message(start + timedelta(hours=h), BOB) for h in (1, 2, 3)]
    slack = SlackConnector(settings(channels=["C1", "C2", "C1"], page_size=200), context)
    with respx.mock(base_url=BASE) as router:
        route = router.get("/conversations.history").mock(side_effect=serve({"C1": c1, "C2": c2}, size=200))
        result = await slack.collect(utc_window(start, datetime(2026, 3, 5, tzinfo=UTC)), {})
    await slack.aclose()
    asked = [(c.request.url.params["channel"], c.request.url.params.get("cursor")) for c in route.calls]
    assert asked == [("C1", None), ("C1", "c200"), ("C1", "c400"), ("C2", None)]
    assert counts_of(result.counts) == {
        ("messages_sent", ALICE, date(2026, 3, 1)): 72.0,
        ("messages_sent", BOB, date(2026, 3, 1)): 72.0 + 3,
        ("messages_sent", ALICE, date(2026, 3, 2)): 72.0,
        ("messages_sent", BOB, date(2026, 3, 2)): 72.0,
        ("messages_sent", ALICE, date(2026, 3, 3)): 72.0,
        ("messages_sent", BOB, date(2026, 3, 3)): 72.0,
        ("messages_sent", ALICE, date(2026, 3, 4)): 9.0,  # i = 432..449
        ("messages_sent", BOB, date(2026, 3, 4)): 9.0,
    }


async def test_window_edges_are_half_open(connector: SlackConnector) -> None:
    start, end = datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    # `inclusive=true` makes Slack return both bounds; a stray older one too.
    messages = [
        message(start - timedelta(microseconds=1)),
        message(start),
        message(start + timedelta(hours=5)),
        message(end - timedelta(microseconds=1)),
        message(end),
    ]
    with respx.mock(base_url=BASE) as router:
        router.get("/conversations.history").mock(side_effect=serve({"C1": messages}))
        result = await connector.collect(utc_window(start, end), {})
    assert counts_of(result.counts) == {("messages_sent", ALICE, date(2026, 3, 7)): 3.0}


async def test_days_are_local_days(context: ConnectorContext) -> None:
    window = SyncWindow(
        start=datetime(2026, 3, 6, tzinfo=NEW_YORK), end=datetime(2026, 3, 8, tzinfo=NEW_YORK), timezone=NEW_YORK
    )
    messages = [
        message(datetime(2026, 3, 7, 4, 30, tzinfo=UTC)),  # 23:30 EST on the 6th
        message(datetime(2026, 3, 7, 5, 0, tzinfo=UTC)),  # 00:00 EST on the 7th
        message(datetime(2026, 3, 8, 5, 0, tzinfo=UTC)),  # the window's end
    ]
    slack = SlackConnector(settings(), context)
    with respx.mock(base_url=BASE) as router:
        router.get("/conversations.history").mock(side_effect=serve({"C1": messages}))
        result = await slack.collect(window, {})
    await slack.aclose()
    assert counts_of(result.counts) == {
        ("messages_sent", ALICE, date(2026, 3, 6)): 1.0,
        ("messages_sent", ALICE, date(2026, 3, 7)): 1.0,
    }


async def test_429_then_success_waits_retry_after(connector: SlackConnector, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/conversations.history").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "30"}, json={"ok": False, "error": "ratelimited"}),
                httpx.Response(200, json=load_fixture("slack", "history_page2.json")),
            ]
        )
        result = await connector.collect(
            utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert clock.sleeps == [30.0]
    assert sum(c.value for c in result.counts) == 2.0


async def test_paces_one_request_a_minute_for_non_marketplace_apps(context: ConnectorContext, clock: FakeClock) -> None:
    start = datetime(2026, 3, 7, tzinfo=UTC)
    messages = [message(start + timedelta(minutes=i)) for i in range(40)]
    slack = SlackConnector(settings(requests_per_minute=1, page_size=15), context)
    with respx.mock(base_url=BASE) as router:
        route = router.get("/conversations.history").mock(side_effect=serve({"C1": messages}, size=15))
        result = await slack.collect(utc_window(start, start + timedelta(days=1)), {})
    await slack.aclose()
    assert route.calls[0].request.url.params["limit"] == "15"
    assert route.call_count == 3
    assert clock.sleeps == [61.0, 61.0]
    assert counts_of(result.counts) == {("messages_sent", ALICE, date(2026, 3, 7)): 40.0}


@pytest.mark.parametrize("fixture", ["error_invalid_auth.json", "error_missing_scope.json"])
async def test_ok_false_auth_errors_fail_after_one_request(
    connector: SlackConnector, observer: RecordingObserver, fixture: str
) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/conversations.history").respond(200, json=load_fixture("slack", fixture))
        with pytest.raises(SourceAuthError) as caught:
            await connector.collect(utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {})
    assert observer.codes == ["200"]
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("channel_not_found", SourceRequestError),
        ("not_in_channel", SourceRequestError),
        ("internal_error", SourceUnavailable),
        ("invalid_json", SourceResponseError),
    ],
)
async def test_other_ok_false_errors_are_mapped(connector: SlackConnector, error: str, kind: type[Exception]) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/conversations.history").respond(200, json={"ok": False, "error": error})
        with pytest.raises(kind, match=error):
            await connector.collect(utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {})


async def test_an_answer_without_ok_is_a_response_error(connector: SlackConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/conversations.history").respond(200, json={"messages": []})
        with pytest.raises(SourceResponseError):
            await connector.collect(utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {})


async def test_empty_channel_gives_no_counts(connector: SlackConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/conversations.history").respond(json={"ok": True, "messages": [], "has_more": False})
        result = await connector.collect(
            utc_window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert result.counts == []
    assert observer.codes == ["200"]


async def test_check_calls_auth_test(connector: SlackConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/auth.test").respond(json=load_fixture("slack", "auth_test.json"))
        await connector.check()
        router.get("/auth.test").respond(json={"ok": False, "error": "token_revoked"})
        with pytest.raises(SourceAuthError, match="token_revoked"):
            await connector.check()
    assert route.call_count == 2  # respx keeps one route per pattern
