"""The Stripe connector against respx: starting_after paging, status=all, window edges, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.stripe import StripeConnector, StripeSettings
from syncd.errors import SourceAuthError, SourceRequestError, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://api.stripe.com/v1"
KEY = "sk_test_51Abcdefghijklmnopqrstuvwx"
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
EMPTY = {"object": "list", "url": "/v1/subscriptions", "has_more": False, "data": []}


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[StripeConnector]:
    stripe = StripeConnector(StripeSettings(connector="stripe", api_key=KEY), context)
    yield stripe
    await stripe.aclose()


def obj(prefix: str, index: int, created: datetime) -> dict[str, object]:
    return {"id": f"{prefix}_{index:06d}", "object": "x", "created": int(created.timestamp())}


def serve(items: list[dict[str, object]]) -> Callable[[httpx.Request], httpx.Response]:
    """Answer a list like Stripe: newest first, filtered on created, `starting_after` an id."""

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        gte, lt = int(params["created[gte]"]), int(params["created[lt]"])
        rows = sorted(
            (i for i in items if gte <= int(str(i["created"])) < lt), key=lambda i: int(str(i["created"])), reverse=True
        )
        after = params.get("starting_after")
        start = next(n + 1 for n, i in enumerate(rows) if i["id"] == after) if after else 0
        limit = int(params["limit"])
        page = rows[start : start + limit]
        return httpx.Response(
            200, json={"object": "list", "url": request.url.path, "has_more": start + limit < len(rows), "data": page}
        )

    return handler


def utc_window(start: datetime, end: datetime) -> SyncWindow:
    return SyncWindow(start=start, end=end, timezone=UTC_ZONE)


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = StripeConnector
    instance = klass(StripeSettings(connector="stripe", api_key=KEY), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [m.name for m in klass.metrics] == ["new_customers", "new_subscriptions"]
    assert klass.history_limit is None
    assert KEY not in repr(StripeSettings(connector="stripe", api_key=KEY))


async def test_fixtures_count_customers_and_canceled_subscriptions(connector: StripeConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        customers = router.get("/customers").respond(json=load_fixture("stripe", "customers_page.json"))
        subscriptions = router.get("/subscriptions").respond(json=load_fixture("stripe", "subscriptions_page.json"))
        result = await connector.collect(
            utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, 0, 500000, tzinfo=UTC)), {}
        )
    assert counts_of(result.counts) == {
        ("new_customers", "all", date(2026, 3, 6)): 1.0,
        ("new_customers", "all", date(2026, 3, 7)): 1.0,
        ("new_subscriptions", "all", date(2026, 3, 6)): 1.0,  # canceled since, still new that day
        ("new_subscriptions", "all", date(2026, 3, 7)): 1.0,
    }
    request = customers.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in str(request.url)
    # The end, 12:00:00.5, rounds up so a customer created at 12:00:00 is still asked for.
    assert dict(request.url.params) == {"created[gte]": "1772755200", "created[lt]": "1772971201", "limit": "100"}
    assert subscriptions.calls[0].request.url.params["status"] == "all"


async def test_pages_with_starting_after_to_the_end(connector: StripeConnector) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    # 230 customers, one every 30 minutes: 48 a day; 3 subscriptions.
    customers = [obj("cus", i, start + timedelta(minutes=30 * i)) for i in range(230)]
    subscriptions = [obj("sub", i, start + timedelta(hours=i)) for i in range(3)]
    with respx.mock(base_url=BASE) as router:
        route = router.get("/customers").mock(side_effect=serve(customers))
        router.get("/subscriptions").mock(side_effect=serve(subscriptions))
        result = await connector.collect(utc_window(start, datetime(2026, 3, 8, tzinfo=UTC)), {})
    # Newest first: page 1 ends at i=130, page 2 at i=30.
    assert [c.request.url.params.get("starting_after") for c in route.calls] == [None, "cus_000130", "cus_000030"]
    assert counts_of(result.counts) == {
        ("new_customers", "all", date(2026, 3, 1)): 48.0,
        ("new_customers", "all", date(2026, 3, 2)): 48.0,
        ("new_customers", "all", date(2026, 3, 3)): 48.0,
        ("new_customers", "all", date(2026, 3, 4)): 48.0,
        ("new_customers", "all", date(2026, 3, 5)): 38.0,
        ("new_subscriptions", "all", date(2026, 3, 1)): 3.0,
    }


async def test_window_edges_are_half_open(connector: StripeConnector) -> None:
    start, end = datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    # A vendor ignoring the filters: the edges are applied here too.
    items = [
        obj("cus", 1, start - timedelta(seconds=1)),
        obj("cus", 2, start),
        obj("cus", 3, end - timedelta(seconds=1)),
        obj("cus", 4, end),
    ]
    with respx.mock(base_url=BASE) as router:
        router.get("/customers").respond(json={"object": "list", "has_more": False, "data": items})
        router.get("/subscriptions").respond(json=EMPTY)
        result = await connector.collect(utc_window(start, end), {})
    assert counts_of(result.counts) == {("new_customers", "all", date(2026, 3, 7)): 2.0}


async def test_days_are_local_days(context: ConnectorContext) -> None:
    window = SyncWindow(
        start=datetime(2026, 3, 6, tzinfo=NEW_YORK), end=datetime(2026, 3, 8, tzinfo=NEW_YORK), timezone=NEW_YORK
    )
    items = [
        obj("cus", 1, datetime(2026, 3, 7, 4, 30, tzinfo=UTC)),  # 23:30 EST on the 6th
        obj("cus", 2, datetime(2026, 3, 7, 5, 0, tzinfo=UTC)),  # 00:00 EST on the 7th
    ]
    stripe = StripeConnector(StripeSettings(connector="stripe", api_key=KEY), context)
    with respx.mock(base_url=BASE) as router:
        route = router.get("/customers").mock(side_effect=serve(items))
        router.get("/subscriptions").respond(json=EMPTY)
        result = await stripe.collect(window, {})
    await stripe.aclose()
    assert route.calls[0].request.url.params["created[gte]"] == str(int(window.start.timestamp()))
    assert counts_of(result.counts) == {
        ("new_customers", "all", date(2026, 3, 6)): 1.0,
        ("new_customers", "all", date(2026, 3, 7)): 1.0,
    }


async def test_429_then_success_backs_off(connector: StripeConnector, clock: FakeClock) -> None:
    rate_limited = {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}
    with respx.mock(base_url=BASE) as router:
        router.get("/customers").mock(
            side_effect=[
                httpx.Response(429, json=rate_limited, headers={"Retry-After": "1"}),
                httpx.Response(200, json=load_fixture("stripe", "customers_page.json")),
            ]
        )
        router.get("/subscriptions").respond(json=EMPTY)
        result = await connector.collect(
            utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert clock.sleeps == [1.0]
    assert sum(c.value for c in result.counts) == 2.0


async def test_paces_itself_at_20_requests_a_second(connector: StripeConnector, clock: FakeClock) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    customers = [obj("cus", i, start + timedelta(seconds=i)) for i in range(2050)]  # 21 pages
    with respx.mock(base_url=BASE) as router:
        router.get("/customers").mock(side_effect=serve(customers))
        router.get("/subscriptions").respond(json=EMPTY)
        await connector.collect(utc_window(start, datetime(2026, 3, 2, tzinfo=UTC)), {})
    assert clock.sleeps == [1.0]  # the 21st request waited for the first to leave the second


async def test_a_bad_key_is_an_auth_error_after_one_request(
    connector: StripeConnector, observer: RecordingObserver
) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/customers").respond(401, json=load_fixture("stripe", "error_401.json"))
        router.get("/subscriptions").respond(json=EMPTY)
        with pytest.raises(SourceAuthError):
            await connector.collect(utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC)), {})
    assert observer.codes == ["401"]


async def test_the_error_shape_is_a_request_error_naming_the_parameter(connector: StripeConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/customers").respond(400, json=load_fixture("stripe", "error_400.json"))
        with pytest.raises(SourceRequestError, match=r"parameter_unknown") as caught:
            await connector.collect(utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC)), {})
    assert caught.value.status_code == 400


async def test_a_list_without_has_more_is_a_response_error(connector: StripeConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/customers").respond(json={"object": "list", "data": []})
        with pytest.raises(SourceResponseError):
            await connector.collect(utc_window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC)), {})


async def test_empty_account_gives_no_counts(connector: StripeConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/customers").respond(json={**EMPTY, "url": "/v1/customers"})
        router.get("/subscriptions").respond(json=EMPTY)
        result = await connector.collect(
            utc_window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)), {}
        )
    assert result.counts == []
    assert observer.codes == ["200", "200"]


async def test_check_lists_one_customer(connector: StripeConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/customers").respond(json={**EMPTY, "url": "/v1/customers"})
        await connector.check()
    assert dict(route.calls[0].request.url.params) == {"limit": "1"}
