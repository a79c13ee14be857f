"""The Instantly connector against respx: accounts paging, daily rows, days, errors and pacing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.instantly import InstantlyConnector, InstantlySettings
from syncd.errors import SourceAuthError, SourceRateLimited, SourceRequestError, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://api.instantly.ai/api/v2"
KEY = "instantly-test-key-0123456789"
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def settings(**extra: object) -> InstantlySettings:
    return InstantlySettings.model_validate({"connector": "instantly", "api_key": KEY, **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[InstantlyConnector]:
    instantly = InstantlyConnector(settings(), context)
    yield instantly
    await instantly.aclose()


def row(day: str, account: str, sent: int, replies: int = 0) -> dict[str, object]:
    return {"date": day, "email_account": account, "sent": sent, "replies": replies, "bounced": 0}


def accounts_page(emails: list[str], next_after: str | None) -> dict[str, object]:
    body: dict[str, object] = {"items": [{"email": e, "status": 1} for e in emails]}
    if next_after is not None:
        body["next_starting_after"] = next_after
    return body


def daily(rows: list[dict[str, object]]) -> Callable[[httpx.Request], httpx.Response]:
    """Answer the daily analytics like Instantly: the asked accounts, dates inclusive of both ends."""

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        emails = set(params.get_list("emails"))
        start, end = params["start_date"], params["end_date"]
        picked = [r for r in rows if r["email_account"] in emails and start <= str(r["date"]) <= end]
        return httpx.Response(200, json=picked)

    return handler


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


def utc_window(start: datetime, end: datetime) -> SyncWindow:
    return SyncWindow(start=start, end=end, timezone=UTC_ZONE)


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = InstantlyConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [(m.name, m.subject) for m in klass.metrics] == [
        ("emails_sent", "sending account email"),
        ("replies", "sending account email"),
    ]
    assert klass.type_name == "instantly"
    assert klass.history_limit is None


def test_settings_need_a_key_and_accept_campaigns() -> None:
    with pytest.raises(pydantic.ValidationError, match="api_key"):
        InstantlySettings.model_validate({"connector": "instantly"})
    parsed = settings(campaign_ids=["c1", "c2"])
    assert parsed.campaign_ids == ["c1", "c2"]
    assert KEY not in repr(parsed)


async def test_accounts_are_paged_to_the_end_then_analytics_asked_in_batches(
    connector: InstantlyConnector,
) -> None:
    # 230 accounts: pages of 100, 100, 30; analytics in batches of 100, 100, 30.
    emails = [f"user{n:03d}@acme.io" for n in range(230)]
    pages = [
        accounts_page(emails[0:100], emails[99]),
        accounts_page(emails[100:200], emails[199]),
        accounts_page(emails[200:230], None),
    ]
    rows = [row("2026-03-07", e, n % 5, n % 2) for n, e in enumerate(emails)]
    with respx.mock(base_url=BASE) as router:
        listing = router.get("/accounts").mock(side_effect=[httpx.Response(200, json=p) for p in pages])
        analytics = router.get("/accounts/analytics/daily").mock(side_effect=daily(rows))
        result = await connector.collect(
            utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert [c.request.url.params.get("starting_after") for c in listing.calls] == [None, emails[99], emails[199]]
    assert all(c.request.url.params["limit"] == "100" for c in listing.calls)
    assert [len(c.request.url.params.get_list("emails")) for c in analytics.calls] == [100, 100, 30]
    counts = counts_of(result.counts)
    assert counts[("emails_sent", "user004@acme.io", date(2026, 3, 7))] == 4.0
    assert counts[("replies", "user229@acme.io", date(2026, 3, 7))] == 1.0
    assert ("emails_sent", "user005@acme.io", date(2026, 3, 7)) not in counts  # 0 sent: left out
    # 230 accounts send 0,1,2,3,4 in turn: 46 * 10; half of them (115) got one reply.
    assert sum(v for (m, _, _), v in counts.items() if m == "emails_sent") == 460.0
    assert sum(v for (m, _, _), v in counts.items() if m == "replies") == 115.0


async def test_request_shape_auth_and_fixture_rows(connector: InstantlyConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        listing = router.get("/accounts").mock(
            side_effect=[
                httpx.Response(200, json=load_fixture("instantly", "accounts.json")),
                httpx.Response(200, json={"items": []}),  # an empty page ends the list
            ]
        )
        analytics = router.get("/accounts/analytics/daily").respond(
            json=load_fixture("instantly", "accounts_analytics_daily.json")
        )
        result = await connector.collect(
            utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    request = analytics.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in str(request.url)
    assert request.url.path == "/api/v2/accounts/analytics/daily"
    # Ask for one day more: whether end_date is inclusive is not documented.
    # Sent as Instantly spells them; counted under the lower-case address.
    assert request.url.params.get_list("emails") == ["alice@acme.io", "Bob@Acme.io"]
    assert (request.url.params["start_date"], request.url.params["end_date"]) == ("2026-03-07", "2026-03-08")
    assert listing.call_count == 2
    assert counts_of(result.counts) == {
        ("emails_sent", "alice@acme.io", date(2026, 3, 7)): 42.0,
        ("replies", "alice@acme.io", date(2026, 3, 7)): 3.0,
        ("emails_sent", "bob@acme.io", date(2026, 3, 7)): 17.0,
    }


async def test_window_edges_only_the_windows_days_count(connector: InstantlyConnector) -> None:
    # A vendor treating end_date inclusively returns the day after; a stray earlier row too.
    rows = [
        row("2026-03-06", "alice@acme.io", 5),
        row("2026-03-07", "alice@acme.io", 7),  # the window's first day: counted once
        row("2026-03-08", "alice@acme.io", 9),  # the day of window.end: not counted
    ]
    with respx.mock(base_url=BASE) as router:
        router.get("/accounts").respond(json=accounts_page(["alice@acme.io"], None))
        router.get("/accounts/analytics/daily").respond(json=rows)
        result = await connector.collect(
            utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert counts_of(result.counts) == {("emails_sent", "alice@acme.io", date(2026, 3, 7)): 7.0}


async def test_vendor_dates_are_the_local_days_of_a_new_york_window(connector: InstantlyConnector) -> None:
    # Local days 7 and 8 March in New York; Instantly's UTC dates are given to the same local days.
    window = SyncWindow(datetime(2026, 3, 7, tzinfo=NEW_YORK), datetime(2026, 3, 9, tzinfo=NEW_YORK), NEW_YORK)
    rows = [row("2026-03-07", "alice@acme.io", 3, 1), row("2026-03-08", "alice@acme.io", 4)]
    with respx.mock(base_url=BASE) as router:
        router.get("/accounts").respond(json=accounts_page(["alice@acme.io"], None))
        analytics = router.get("/accounts/analytics/daily").mock(side_effect=daily(rows))
        result = await connector.collect(window, {})
    params = analytics.calls[0].request.url.params
    assert (params["start_date"], params["end_date"]) == ("2026-03-07", "2026-03-09")
    assert counts_of(result.counts) == {
        ("emails_sent", "alice@acme.io", date(2026, 3, 7)): 3.0,
        ("replies", "alice@acme.io", date(2026, 3, 7)): 1.0,
        ("emails_sent", "alice@acme.io", date(2026, 3, 8)): 4.0,
    }


async def test_long_windows_are_split_into_pieces_of_at_most_31_days(connector: InstantlyConnector) -> None:
    rows = [row("2026-01-01", "alice@acme.io", 1), row("2026-01-31", "alice@acme.io", 2)]
    rows += [row("2026-03-01", "alice@acme.io", 3), row("2026-03-31", "alice@acme.io", 4)]
    with respx.mock(base_url=BASE) as router:
        router.get("/accounts").respond(json=accounts_page(["alice@acme.io"], None))
        analytics = router.get("/accounts/analytics/daily").mock(side_effect=daily(rows))
        result = await connector.collect(
            utc_window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)), {}
        )
    asked = [(c.request.url.params["start_date"], c.request.url.params["end_date"]) for c in analytics.calls]
    # Each piece owns [start, end): 1 Jan..30 Jan, 31 Jan..1 Mar, 2 Mar..31 Mar; rows on shared edges count once.
    assert asked == [("2026-01-01", "2026-01-31"), ("2026-01-31", "2026-03-02"), ("2026-03-02", "2026-04-01")]
    assert counts_of(result.counts) == {
        ("emails_sent", "alice@acme.io", date(2026, 1, 1)): 1.0,
        ("emails_sent", "alice@acme.io", date(2026, 1, 31)): 2.0,
        ("emails_sent", "alice@acme.io", date(2026, 3, 1)): 3.0,
        ("emails_sent", "alice@acme.io", date(2026, 3, 31)): 4.0,
    }


async def test_campaign_ids_narrow_the_accounts(context: ConnectorContext) -> None:
    instantly = InstantlyConnector(settings(campaign_ids=["0199a1b2-0000-7000-8000-00000000c0a1"]), context)
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        campaign = router.get("/campaigns/0199a1b2-0000-7000-8000-00000000c0a1").respond(
            json=load_fixture("instantly", "campaign.json")
        )
        listing = router.get("/accounts")
        analytics = router.get("/accounts/analytics/daily").respond(json=[])
        await instantly.collect(utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {})
    await instantly.aclose()
    assert campaign.call_count == 1
    assert listing.call_count == 0
    assert analytics.calls[0].request.url.params.get_list("emails") == ["alice@acme.io", "Carol@Acme.io"]


async def test_empty_workspace_asks_for_no_analytics(
    connector: InstantlyConnector, observer: RecordingObserver
) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/accounts").respond(json={"items": []})
        analytics = router.get("/accounts/analytics/daily")
        result = await connector.collect(
            utc_window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert result.counts == []
    assert analytics.call_count == 0
    assert observer.codes == ["200"]


async def test_429_then_success(connector: InstantlyConnector, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/accounts").mock(
            side_effect=[
                httpx.Response(429, json=load_fixture("instantly", "error_429.json")),
                httpx.Response(200, json=accounts_page(["alice@acme.io"], None)),
            ]
        )
        router.get("/accounts/analytics/daily").respond(json=[row("2026-03-07", "alice@acme.io", 2)])
        result = await connector.collect(
            utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert len(clock.sleeps) == 1
    assert 1.0 <= clock.sleeps[0] <= 2.0  # backoff: no wait header
    assert counts_of(result.counts) == {("emails_sent", "alice@acme.io", date(2026, 3, 7)): 2.0}


async def test_429_every_time_is_rate_limited(connector: InstantlyConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/accounts").respond(429, json=load_fixture("instantly", "error_429.json"))
        with pytest.raises(SourceRateLimited):
            await connector.check()
    assert route.call_count == 5


async def test_paces_itself_at_100_requests_a_second(context: ConnectorContext, clock: FakeClock) -> None:
    # 120 campaigns, each read once, then an empty analytics answer: 121 requests.
    ids = [f"c{n:03d}" for n in range(120)]
    instantly = InstantlyConnector(settings(campaign_ids=ids), context)
    with respx.mock(base_url=BASE) as router:
        router.get(url__regex=r".*/campaigns/c\d+$").respond(json={"email_list": ["alice@acme.io"]})
        router.get("/accounts/analytics/daily").respond(json=[])
        await instantly.collect(utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {})
    await instantly.aclose()
    assert clock.sleeps == [1.0]  # the 101st request waited for the first to leave the 1 s window


async def test_bad_key_is_an_auth_error_after_one_request(connector: InstantlyConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/accounts").respond(401, json=load_fixture("instantly", "error_401.json"))
        with pytest.raises(SourceAuthError) as caught:
            await connector.check()
    assert route.call_count == 1
    assert KEY not in str(caught.value)


async def test_the_vendors_400_is_a_request_error_naming_the_problem(connector: InstantlyConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/accounts").respond(json=accounts_page(["alice@acme.io"], None))
        router.get("/accounts/analytics/daily").respond(
            400, json={"message": "Start Date must be earlier than End Date"}
        )
        with pytest.raises(SourceRequestError, match="Start Date must be earlier"):
            await connector.collect(utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {})


async def test_unreadable_rows_are_response_errors(connector: InstantlyConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/accounts").respond(json=accounts_page(["alice@acme.io"], None))
        router.get("/accounts/analytics/daily").respond(json={"items": []})
        with pytest.raises(SourceResponseError):
            await connector.collect(utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {})
