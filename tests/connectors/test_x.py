"""The X connector against respx: DMs sent only, paging, window edges, local days, limits, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.x import XConnector, XSettings
from syncd.errors import SourceAuthError, SourceRateLimited, SourceRequestError, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://api.x.com/2"
TOKEN = "x-user-token-abcdef0123456789"
ME = "1453000001"
PROSPECT = "9123456789"
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def settings(**extra: object) -> XSettings:
    return XSettings.model_validate({"connector": "x", "api_key": TOKEN, **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[XConnector]:
    x = XConnector(settings(), context)
    yield x
    await x.aclose()


def dm(index: int, created_at: datetime, sender: str = ME, kind: str = "MessageCreate") -> dict[str, object]:
    at = created_at.astimezone(UTC)
    return {
        "id": str(1877000000000000000 + index),
        "event_type": kind,
        "text": "hi",
        "sender_id": sender,
        "dm_conversation_id": f"{ME}-{PROSPECT}",
        "created_at": f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z",
    }


def serve(events: list[dict[str, object]]) -> Callable[[httpx.Request], httpx.Response]:
    """Answer /dm_events like X: newest first, 100 a page, an opaque token naming the next offset."""
    ordered = sorted(events, key=lambda e: str(e["created_at"]), reverse=True)

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        offset = int(params.get("pagination_token", "tok0").removeprefix("tok"))
        size = int(params["max_results"])
        page = ordered[offset : offset + size]
        meta: dict[str, object] = {"result_count": len(page)}
        if offset + size < len(ordered):
            meta["next_token"] = f"tok{offset + size}"
        body: dict[str, object] = {"meta": meta}
        if page:
            body["data"] = page
        return httpx.Response(200, json=body)

    return handler


def mock_me(router: respx.MockRouter) -> respx.Route:
    return router.get("/users/me").respond(json=load_fixture("x", "users_me.json"))


def utc_window(start: datetime, end: datetime) -> SyncWindow:
    return SyncWindow(start=start, end=end, timezone=UTC_ZONE)


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = XConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [(m.name, m.subject) for m in klass.metrics] == [("dms_sent", "the sender's user id")]
    assert klass.history_limit == timedelta(days=30)


def test_settings_need_a_token_and_hide_it() -> None:
    with pytest.raises(pydantic.ValidationError, match="api_key"):
        XSettings.model_validate({"connector": "x"})
    assert TOKEN not in repr(settings())


async def test_fixture_pages_count_only_dms_the_owner_sent(connector: XConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        me = mock_me(router)
        route = router.get("/dm_events").mock(
            side_effect=[
                httpx.Response(200, json=load_fixture("x", "dm_events_page1.json")),
                httpx.Response(200, json=load_fixture("x", "dm_events_page2.json")),
            ]
        )
        result = await connector.collect(
            utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    # Received DM (sender 9123456789) and the ParticipantsJoin event are not DMs sent.
    assert counts_of(result.counts) == {
        ("dms_sent", ME, date(2026, 3, 6)): 2.0,
        ("dms_sent", ME, date(2026, 3, 7)): 1.0,
    }
    first, second = (call.request for call in route.calls)
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert dict(first.url.params) == {
        "event_types": "MessageCreate",
        "dm_event.fields": "id,event_type,created_at,sender_id,dm_conversation_id",
        "max_results": "100",
    }
    assert second.url.params["pagination_token"] == "18LAA5FFPEKJA52G"
    assert me.call_count == 1


async def test_pages_100_100_50_to_the_end(connector: XConnector) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    # 250 events, one an hour from 2026-03-01 00:30: every third one received, the rest sent.
    events = [dm(i, start + timedelta(minutes=30 + 60 * i), sender=PROSPECT if i % 3 == 0 else ME) for i in range(250)]
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        route = router.get("/dm_events").mock(side_effect=serve(events))
        result = await connector.collect(utc_window(start, datetime(2026, 3, 12, tzinfo=UTC)), {})
    assert [c.request.url.params.get("pagination_token") for c in route.calls] == [None, "tok100", "tok200"]
    counts = counts_of(result.counts)
    # 24 a day, 8 of them received (i % 3 == 0); 250 = 10 days and 10 hours: day 11 has i=240..249.
    assert counts[("dms_sent", ME, date(2026, 3, 1))] == 16.0
    assert counts[("dms_sent", ME, date(2026, 3, 11))] == 6.0  # 241,242,244,245,247,248
    assert sum(counts.values()) == 250 - 84


async def test_stops_after_a_page_wholly_before_the_window(connector: XConnector) -> None:
    start = datetime(2026, 2, 20, tzinfo=UTC)
    events = [dm(i, start + timedelta(hours=i)) for i in range(400)]  # to 2026-03-08 15:00
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        route = router.get("/dm_events").mock(side_effect=serve(events))
        result = await connector.collect(
            utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    # Page 1 holds i=399..300 (2026-03-08 15:00 back to 2026-03-04 12:00): all older after it.
    assert route.call_count == 2
    assert counts_of(result.counts) == {("dms_sent", ME, date(2026, 3, 7)): 24.0}


async def test_window_edges_are_half_open(connector: XConnector) -> None:
    start, end = datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    events = [
        dm(1, start - timedelta(milliseconds=1)),
        dm(2, start),
        dm(3, start + timedelta(hours=12)),
        dm(4, end - timedelta(milliseconds=1)),
        dm(5, end),
    ]
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        router.get("/dm_events").mock(side_effect=serve(events))
        result = await connector.collect(utc_window(start, end), {})
    assert counts_of(result.counts) == {("dms_sent", ME, date(2026, 3, 7)): 3.0}


async def test_days_are_local_days(context: ConnectorContext) -> None:
    window = SyncWindow(
        start=datetime(2026, 3, 6, tzinfo=NEW_YORK), end=datetime(2026, 3, 8, tzinfo=NEW_YORK), timezone=NEW_YORK
    )
    events = [
        dm(1, datetime(2026, 3, 7, 4, 30, tzinfo=UTC)),  # 23:30 EST on the 6th
        dm(2, datetime(2026, 3, 7, 5, 0, tzinfo=UTC)),  # 00:00 EST on the 7th
        dm(3, datetime(2026, 3, 8, 4, 59, tzinfo=UTC)),  # 23:59 EST on the 7th
        dm(4, datetime(2026, 3, 8, 5, 0, tzinfo=UTC)),  # the window's end
    ]
    x = XConnector(settings(), context)
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        router.get("/dm_events").mock(side_effect=serve(events))
        result = await x.collect(window, {})
    await x.aclose()
    assert counts_of(result.counts) == {
        ("dms_sent", ME, date(2026, 3, 6)): 1.0,
        ("dms_sent", ME, date(2026, 3, 7)): 2.0,
    }


async def test_a_window_beyond_30_days_is_complete_only_from_the_oldest_whole_day(connector: XConnector) -> None:
    # The clock reads 2026-03-08 12:00 UTC: X serves from 2026-02-06 12:00, so the 7th on.
    events = [dm(1, datetime(2026, 2, 6, 13, tzinfo=UTC)), dm(2, datetime(2026, 2, 7, 9, tzinfo=UTC))]
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        router.get("/dm_events").mock(side_effect=serve(events))
        result = await connector.collect(
            utc_window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert result.complete_from == date(2026, 2, 7)
    assert counts_of(result.counts) == {("dms_sent", ME, date(2026, 2, 7)): 1.0}
    assert "30 days" in result.notes[0]


async def test_429_then_success_waits_until_the_epoch_reset(connector: XConnector, clock: FakeClock) -> None:
    reset = int(clock.now().timestamp()) + 5
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        router.get("/dm_events").mock(
            side_effect=[
                httpx.Response(
                    429,
                    json=load_fixture("x", "rate_limit_429.json"),
                    headers={
                        "x-rate-limit-limit": "15",
                        "x-rate-limit-remaining": "0",
                        "x-rate-limit-reset": str(reset),
                    },
                ),
                httpx.Response(200, json=load_fixture("x", "dm_events_page2.json")),
            ]
        )
        result = await connector.collect(
            utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC)), {}
        )
    assert clock.sleeps == [5.0]
    assert counts_of(result.counts) == {("dms_sent", ME, date(2026, 3, 6)): 2.0}


async def test_a_reset_beyond_the_cap_is_rate_limited(connector: XConnector, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        router.get("/dm_events").respond(
            429,
            json=load_fixture("x", "rate_limit_429.json"),
            headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(clock.now().timestamp()) + 600)},
        )
        with pytest.raises(SourceRateLimited) as caught:
            await connector.collect(utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC)), {})
    assert caught.value.retry_after == 600.0


async def test_paces_itself_at_15_requests_per_15_minutes(connector: XConnector, clock: FakeClock) -> None:
    start = datetime(2026, 2, 20, tzinfo=UTC)
    events = [dm(i, start + timedelta(minutes=10 * i)) for i in range(1550)]  # 16 pages
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        route = router.get("/dm_events").mock(side_effect=serve(events))
        await connector.collect(utc_window(start, datetime(2026, 3, 8, tzinfo=UTC)), {})
    assert route.call_count == 16
    # users/me and 14 pages go out at once; the 16th request waits for the window to pass.
    assert clock.sleeps == [900.0]


async def test_a_bad_token_is_an_auth_error_after_one_request(
    connector: XConnector, observer: RecordingObserver
) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/users/me").respond(401, json=load_fixture("x", "error_401.json"))
        dm_route = router.get("/dm_events").respond(json={"meta": {"result_count": 0}})
        with pytest.raises(SourceAuthError):
            await connector.collect(utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC)), {})
    assert observer.codes == ["401"]
    assert dm_route.call_count == 0


async def test_problem_json_is_a_request_error_naming_the_problem(connector: XConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        router.get("/dm_events").respond(400, json=load_fixture("x", "error_400.json"))
        with pytest.raises(SourceRequestError, match="max_results") as caught:
            await connector.collect(utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC)), {})
    assert TOKEN not in str(caught.value)


async def test_an_event_without_created_at_is_a_response_error(connector: XConnector) -> None:
    event = {"id": "1", "event_type": "MessageCreate", "sender_id": ME, "text": "hi"}
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        router.get("/dm_events").respond(json={"data": [event], "meta": {"result_count": 1}})
        with pytest.raises(SourceResponseError):
            await connector.collect(utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC)), {})


async def test_empty_account_gives_no_counts(connector: XConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        mock_me(router)
        route = router.get("/dm_events").respond(json={"meta": {"result_count": 0}})
        result = await connector.collect(
            utc_window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert result.counts == []
    assert route.call_count == 1
    assert observer.codes == ["200", "200"]


async def test_check_reads_the_owner(connector: XConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = mock_me(router)
        await connector.check()
    assert route.call_count == 1
