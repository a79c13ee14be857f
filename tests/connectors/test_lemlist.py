"""The lemlist connector against respx: paging, window edges, local days, errors and pacing."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.lemlist import LemlistConnector, LemlistSettings
from syncd.errors import SourceAuthError, SourceRateLimited, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://api.lemlist.com/api"
KEY = "lemlist-test-key-0123456789"
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def settings(**extra: object) -> LemlistSettings:
    return LemlistSettings.model_validate({"connector": "lemlist", "api_key": KEY, **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[LemlistConnector]:
    lemlist = LemlistConnector(settings(), context)
    yield lemlist
    await lemlist.aclose()


def activity(
    index: int, created_at: datetime, *, kind: str = "emailsSent", sender: str = "alice@acme.io"
) -> dict[str, object]:
    return {
        "_id": f"act_{kind}_{index}",
        "type": kind,
        "createdAt": created_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "campaignId": "cam_1",
        "sendUserEmail": sender,
    }


def serve(by_type: dict[str, list[dict[str, object]]]) -> Callable[[httpx.Request], httpx.Response]:
    """Answer /activities like lemlist: filter by type, then slice by offset and limit."""

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        items = by_type.get(params["type"], [])
        offset, limit = int(params["offset"]), int(params["limit"])
        return httpx.Response(200, json=items[offset : offset + limit])

    return handler


def utc_window(start: datetime, end: datetime) -> SyncWindow:
    return SyncWindow(start=start, end=end, timezone=UTC_ZONE)


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = LemlistConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [m.name for m in klass.metrics] == ["emails_sent", "emails_replied"]
    assert klass.type_name == "lemlist"
    assert klass.history_limit is None


def test_settings_need_a_key_and_accept_campaigns() -> None:
    with pytest.raises(pydantic.ValidationError, match="api_key"):
        LemlistSettings.model_validate({"connector": "lemlist"})
    parsed = settings(campaign_ids=["cam_A", "cam_B"])
    assert parsed.campaign_ids == ["cam_A", "cam_B"]
    assert KEY not in repr(parsed)


async def test_pages_100_100_37_to_the_end(connector: LemlistConnector) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    # 237 emails, one every 20 minutes from 2026-03-01 00:00 UTC: 72 a day, alice on even, bob on odd.
    sent = [
        activity(i, start + timedelta(minutes=20 * i), sender="alice@acme.io" if i % 2 == 0 else "bob@acme.io")
        for i in range(237)
    ]
    with respx.mock(base_url=BASE) as router:
        route = router.get("/activities").mock(side_effect=serve({"emailsSent": sent}))
        result = await connector.collect(utc_window(start, datetime(2026, 3, 5, tzinfo=UTC)), {})
    sent_calls = [c.request.url.params for c in route.calls if c.request.url.params["type"] == "emailsSent"]
    assert [(p["offset"], p["limit"]) for p in sent_calls] == [("0", "100"), ("100", "100"), ("200", "100")]
    assert route.call_count == 4  # three pages of sends, one empty page of replies
    assert counts_of(result.counts) == {
        ("emails_sent", "alice@acme.io", date(2026, 3, 1)): 36.0,
        ("emails_sent", "bob@acme.io", date(2026, 3, 1)): 36.0,
        ("emails_sent", "alice@acme.io", date(2026, 3, 2)): 36.0,
        ("emails_sent", "bob@acme.io", date(2026, 3, 2)): 36.0,
        ("emails_sent", "alice@acme.io", date(2026, 3, 3)): 36.0,
        ("emails_sent", "bob@acme.io", date(2026, 3, 3)): 36.0,
        # i = 216..236 on 2026-03-04: 11 even, 10 odd
        ("emails_sent", "alice@acme.io", date(2026, 3, 4)): 11.0,
        ("emails_sent", "bob@acme.io", date(2026, 3, 4)): 10.0,
    }


async def test_request_shape_auth_and_dates(connector: LemlistConnector) -> None:
    window = SyncWindow(
        start=datetime(2026, 3, 7, tzinfo=NEW_YORK),
        end=datetime(2026, 3, 9, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )
    with respx.mock(base_url=BASE) as router:
        route = router.get("/activities").respond(json=[])
        await connector.collect(window, {})
    request = route.calls[0].request
    assert request.url.path == "/api/activities"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f":{KEY}".encode()).decode()
    assert KEY not in str(request.url)
    # 00:00 EST is 05:00 UTC; 2026-03-09 00:00 is already EDT, 04:00 UTC.
    assert dict(request.url.params) == {
        "type": "emailsSent",
        "minDate": "2026-03-07T05:00:00.000Z",
        "maxDate": "2026-03-09T04:00:00.000Z",
        "limit": "100",
        "offset": "0",
    }
    assert route.calls[1].request.url.params["type"] == "emailsReplied"


async def test_window_edges_are_half_open(connector: LemlistConnector) -> None:
    start, end = datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    # The vendor's bounds may be inclusive: it returns both edges and a stray item before the start.
    sent = [
        activity(1, start - timedelta(milliseconds=1)),
        activity(2, start),
        activity(3, start + timedelta(hours=12)),
        activity(4, end - timedelta(milliseconds=1)),
        activity(5, end),
    ]
    with respx.mock(base_url=BASE) as router:
        router.get("/activities").mock(side_effect=serve({"emailsSent": sent}))
        result = await connector.collect(utc_window(start, end), {})
    assert counts_of(result.counts) == {("emails_sent", "alice@acme.io", date(2026, 3, 7)): 3.0}


async def test_days_are_local_days_across_the_dst_change(connector: LemlistConnector) -> None:
    window = SyncWindow(
        start=datetime(2026, 3, 7, tzinfo=NEW_YORK),
        end=datetime(2026, 3, 9, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )
    sent = [
        # 23:30 EST on 2026-03-07 is 04:30 UTC on 2026-03-08: it belongs to the 7th.
        activity(1, datetime(2026, 3, 8, 4, 30, tzinfo=UTC)),
        activity(2, datetime(2026, 3, 7, 5, 0, tzinfo=UTC)),  # 00:00 EST, the window's start
        # 2026-03-08 has 23 hours in New York: clocks jump from 02:00 EST to 03:00 EDT.
        activity(3, datetime(2026, 3, 8, 5, 30, tzinfo=UTC)),  # 00:30 EST
        activity(4, datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),  # 03:30 EDT
        activity(5, datetime(2026, 3, 9, 3, 59, tzinfo=UTC)),  # 23:59 EDT
        activity(6, datetime(2026, 3, 9, 4, 0, tzinfo=UTC)),  # 00:00 EDT on the 9th: the window's end
    ]
    with respx.mock(base_url=BASE) as router:
        router.get("/activities").mock(side_effect=serve({"emailsSent": sent}))
        result = await connector.collect(window, {})
    assert counts_of(result.counts) == {
        ("emails_sent", "alice@acme.io", date(2026, 3, 7)): 2.0,
        ("emails_sent", "alice@acme.io", date(2026, 3, 8)): 3.0,
    }


async def test_fixture_shapes_sent_and_replied(connector: LemlistConnector) -> None:
    replies = load_fixture("lemlist", "activities_emails_replied.json")
    assert isinstance(replies, list)
    with respx.mock(base_url=BASE) as router:
        router.get("/activities", params={"type": "emailsSent"}).respond(
            json=load_fixture("lemlist", "activities_emails_sent.json")
        )
        # A stray item of another type must not be counted as a reply.
        router.get("/activities", params={"type": "emailsReplied"}).respond(
            json=[*replies, activity(9, datetime(2026, 3, 7, 17, tzinfo=UTC), kind="emailsOpened")]
        )
        result = await connector.collect(
            utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert counts_of(result.counts) == {
        ("emails_sent", "alice@acme.io", date(2026, 3, 7)): 1.0,
        ("emails_sent", "bob@acme.io", date(2026, 3, 7)): 1.0,  # "Bob@Acme.io" normalised
        ("emails_replied", "alice@acme.io", date(2026, 3, 7)): 1.0,
    }


async def test_campaigns_are_read_one_by_one_and_repeats_counted_once(context: ConnectorContext) -> None:
    lemlist = LemlistConnector(settings(campaign_ids=["cam_A", "cam_B"]), context)
    day = datetime(2026, 3, 7, 10, tzinfo=UTC)
    per_campaign = {
        "cam_A": [activity(1, day), activity(2, day)],
        # An item seen twice (an offset shifted under us) is one email.
        "cam_B": [activity(3, day), activity(3, day), activity(4, day, sender="bob@acme.io")],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        items = per_campaign[params["campaignId"]] if params["type"] == "emailsSent" else []
        return httpx.Response(200, json=items)

    with respx.mock(base_url=BASE) as router:
        route = router.get("/activities").mock(side_effect=handler)
        result = await lemlist.collect(
            utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    await lemlist.aclose()
    asked = [(c.request.url.params["type"], c.request.url.params["campaignId"]) for c in route.calls]
    assert asked == [
        ("emailsSent", "cam_A"),
        ("emailsSent", "cam_B"),
        ("emailsReplied", "cam_A"),
        ("emailsReplied", "cam_B"),
    ]
    assert counts_of(result.counts) == {
        ("emails_sent", "alice@acme.io", date(2026, 3, 7)): 3.0,
        ("emails_sent", "bob@acme.io", date(2026, 3, 7)): 1.0,
    }


async def test_empty_account_gives_no_counts(connector: LemlistConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/activities").respond(json=[])
        result = await connector.collect(
            utc_window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert result.counts == []
    assert route.call_count == 2
    assert observer.codes == ["200", "200"]


async def test_paces_itself_at_20_requests_per_2_seconds(connector: LemlistConnector, clock: FakeClock) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    # 2,150 sends: 22 pages (21 full), then 1 page of replies: 23 requests at fake time 0.
    sent = [activity(i, start + timedelta(seconds=i)) for i in range(2150)]
    with respx.mock(base_url=BASE) as router:
        route = router.get("/activities").mock(side_effect=serve({"emailsSent": sent}))
        result = await connector.collect(utc_window(start, datetime(2026, 3, 2, tzinfo=UTC)), {})
    assert route.call_count == 23
    assert clock.sleeps == [2.0]  # the 21st request waited for the first to leave the 2 s window
    assert counts_of(result.counts) == {("emails_sent", "alice@acme.io", date(2026, 3, 1)): 2150.0}


LEMLIST_RESET = "Sun Mar 08 2026 13:00:02 GMT+0100 (Central European Standard Time)"


async def test_429_then_success_waits_what_lemlist_asked(connector: LemlistConnector, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/activities").mock(
            side_effect=[
                httpx.Response(
                    429,
                    headers={
                        "Retry-After": "2",
                        "X-RateLimit-Limit": "20",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": LEMLIST_RESET,
                    },
                ),
                httpx.Response(200, json=[]),
                httpx.Response(200, json=[]),
            ]
        )
        await connector.collect(utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {})
    # Retry-After and the reset agree (12:00:02 UTC): one wait of 2 s, not two.
    assert clock.sleeps == [2.0]


async def test_429_beyond_the_cap_is_rate_limited(connector: LemlistConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/activities").respond(429, headers={"Retry-After": "3600"})
        with pytest.raises(SourceRateLimited) as caught:
            await connector.collect(utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {})
    assert caught.value.retry_after == 3600.0


async def test_check_reads_the_team(connector: LemlistConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/team").respond(json=load_fixture("lemlist", "team.json"))
        await connector.check()
    assert route.call_count == 1


async def test_bad_key_is_an_auth_error_after_one_request(connector: LemlistConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/team").respond(401, text="Unauthorized")
        with pytest.raises(SourceAuthError) as caught:
            await connector.check()
    assert route.call_count == 1
    assert str(caught.value) == "acme rejected the credential (HTTP 401)"


@pytest.mark.parametrize(
    "body",
    ['[{"_id": "act_1", "createdAt": "2026-03-07T10:00:00.000Z"', '{"error": "nope"}', '[{"_id": "a"}]'],
)
async def test_unreadable_answers_are_response_errors(connector: LemlistConnector, body: str) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/activities").respond(200, text=body, headers={"Content-Type": "application/json"})
        with pytest.raises(SourceResponseError):
            await connector.collect(utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {})


async def test_custom_base_url_is_used(context: ConnectorContext) -> None:
    lemlist = LemlistConnector(settings(base_url="http://127.0.0.1:8088/lemlist/api"), context)
    with respx.mock() as router:
        route = router.get("http://127.0.0.1:8088/lemlist/api/team").respond(json={})
        await lemlist.check()
    await lemlist.aclose()
    assert route.call_count == 1
