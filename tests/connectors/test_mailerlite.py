"""The MailerLite connector against respx: cursor paging to the end, zone-less times, days, errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.mailerlite import MailerliteConnector, MailerliteSettings, parse_mailerlite_time
from syncd.config import parse_config
from syncd.errors import SourceAuthError, SourceRequestError, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://connect.mailerlite.com/api"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.mailerlite-test-token"
NEW_YORK = ZoneInfo("America/New_York")
DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "mailerlite.md"
DOC_BLOCKS = 1
DOC_ENV = {"MAILERLITE_API_TOKEN": "mailerlite-token-0001"}


def settings(**extra: object) -> MailerliteSettings:
    return MailerliteSettings.model_validate({"connector": "mailerlite", "api_key": TOKEN, **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[MailerliteConnector]:
    mailerlite = MailerliteConnector(settings(), context)
    yield mailerlite
    await mailerlite.aclose()


def subscriber(n: int, subscribed: datetime | None, created: datetime | None = None) -> dict[str, object]:
    def fmt(at: datetime | None) -> str | None:
        return None if at is None else f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"

    return {
        "id": str(31986843064993537 + n),
        "email": f"fan{n}@example.com",
        "status": "active",
        "subscribed_at": fmt(subscribed),
        "created_at": fmt(created or subscribed),
        "updated_at": fmt(created or subscribed),
        "fields": {},
    }


def page(items: list[dict[str, object]], next_cursor: str | None) -> dict[str, object]:
    return {
        "data": items,
        "links": {"first": None, "last": None, "prev": None, "next": None},
        "meta": {"path": f"{BASE}/subscribers", "per_page": 100, "next_cursor": next_cursor, "prev_cursor": None},
    }


def ny_window(first: date, last_exclusive: date) -> SyncWindow:
    return SyncWindow(
        start=datetime(first.year, first.month, first.day, tzinfo=NEW_YORK),
        end=datetime(last_exclusive.year, last_exclusive.month, last_exclusive.day, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = MailerliteConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [m.name for m in klass.metrics] == ["new_subscribers"]
    assert settings(group_id=114477180917122790).group_id == "114477180917122790"


def test_times_without_a_zone_are_utc() -> None:
    assert parse_mailerlite_time("2021-09-01 14:03:50") == datetime(2021, 9, 1, 14, 3, 50, tzinfo=UTC)
    assert parse_mailerlite_time(None) is None
    assert parse_mailerlite_time("2021-09-01T14:03:50+02:00") == datetime(2021, 9, 1, 12, 3, 50, tzinfo=UTC)


async def test_request_shape(connector: MailerliteConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/subscribers").respond(json=page([], None))
        await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    request = route.calls.last.request
    assert request.url.path == "/api/subscribers"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert dict(request.url.params) == {"filter[status]": "active", "limit": "100"}


async def test_pages_to_the_end_since_there_is_no_date_filter(connector: MailerliteConnector) -> None:
    window = ny_window(date(2026, 3, 7), date(2026, 3, 9))
    inside = datetime(2026, 3, 7, 15, tzinfo=UTC)
    pages = {
        None: page([subscriber(1, inside), subscriber(2, inside - timedelta(days=30))], "c1"),
        "c1": page([subscriber(3, inside - timedelta(days=400))], "c2"),
        # Old subscribers first does not end the read: the order is not documented.
        "c2": page([subscriber(4, inside + timedelta(days=1))], None),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    with respx.mock(base_url=BASE) as router:
        route = router.get("/subscribers").mock(side_effect=handler)
        result = await connector.collect(window, {})
    assert [c.request.url.params.get("cursor") for c in route.calls] == [None, "c1", "c2"]
    assert counts_of(result.counts) == {
        ("new_subscribers", "all", date(2026, 3, 7)): 1.0,
        ("new_subscribers", "all", date(2026, 3, 8)): 1.0,
    }


async def test_window_edges_and_local_days(connector: MailerliteConnector) -> None:
    window = ny_window(date(2026, 3, 7), date(2026, 3, 9))
    items = [
        subscriber(1, window.start - timedelta(seconds=1)),
        subscriber(2, window.start),
        subscriber(3, datetime(2026, 3, 8, 4, 30, tzinfo=UTC)),  # 23:30 EST on the 7th
        subscriber(4, window.end - timedelta(seconds=1)),
        subscriber(5, window.end),
        subscriber(6, None, created=datetime(2026, 3, 8, 15, tzinfo=UTC)),  # no subscribed_at: created_at
        subscriber(2, window.start),  # the same subscriber again
    ]
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").respond(json=page(items, None))
        result = await connector.collect(window, {})
    assert counts_of(result.counts) == {
        ("new_subscribers", "all", date(2026, 3, 7)): 2.0,
        ("new_subscribers", "all", date(2026, 3, 8)): 2.0,
    }


async def test_fixture_page(connector: MailerliteConnector) -> None:
    window = SyncWindow(
        start=datetime(2026, 3, 6, tzinfo=UTC), end=datetime(2026, 3, 8, tzinfo=UTC), timezone=ZoneInfo("UTC")
    )
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").respond(json=load_fixture("mailerlite", "subscribers_page.json"))
        result = await connector.collect(window, {})
    assert counts_of(result.counts) == {
        ("new_subscribers", "all", date(2026, 3, 6)): 1.0,
        ("new_subscribers", "all", date(2026, 3, 7)): 1.0,
    }


async def test_group_reads_the_group_endpoint_and_is_the_subject(context: ConnectorContext) -> None:
    mailerlite = MailerliteConnector(settings(group_id="114477180917122790"), context)
    with respx.mock(base_url=BASE) as router:
        route = router.get("/groups/114477180917122790/subscribers").respond(
            json=page([subscriber(1, datetime(2026, 3, 7, 15, tzinfo=UTC))], None)
        )
        result = await mailerlite.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    await mailerlite.aclose()
    assert route.call_count == 1
    assert counts_of(result.counts) == {("new_subscribers", "114477180917122790", date(2026, 3, 7)): 1.0}


async def test_empty_account(connector: MailerliteConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").respond(json=page([], None))
        result = await connector.collect(ny_window(date(2026, 3, 1), date(2026, 3, 8)), {})
    assert result.counts == []
    assert observer.codes == ["200"]


async def test_429_with_retry_after_then_success(connector: MailerliteConnector, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").mock(
            side_effect=[
                httpx.Response(429, json={"message": "Too Many Attempts."}, headers={"Retry-After": "42"}),
                httpx.Response(200, json=page([subscriber(1, datetime(2026, 3, 7, 15, tzinfo=UTC))], None)),
            ]
        )
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert clock.sleeps == [42.0]
    assert counts_of(result.counts) == {("new_subscribers", "all", date(2026, 3, 7)): 1.0}


async def test_paces_at_120_requests_per_minute(connector: MailerliteConnector, clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("cursor", "0"))
        return httpx.Response(200, json=page([], str(number + 1) if number + 1 < 121 else None))

    with respx.mock(base_url=BASE) as router:
        route = router.get("/subscribers").mock(side_effect=handler)
        await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert route.call_count == 121
    assert clock.sleeps == [60.0]


async def test_check_reads_one_subscriber(connector: MailerliteConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/subscribers").respond(json=page([], None))
        await connector.check()
    assert route.calls.last.request.url.params["limit"] == "1"


async def test_bad_token_is_an_auth_error_after_one_request(connector: MailerliteConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/subscribers").respond(401, json=load_fixture("mailerlite", "unauthenticated.json"))
        with pytest.raises(SourceAuthError, match=r"HTTP 401") as caught:
            await connector.check()
    assert route.call_count == 1
    assert TOKEN not in str(caught.value)


async def test_validation_error_shape_reaches_the_message(connector: MailerliteConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").respond(422, json=load_fixture("mailerlite", "invalid_limit.json"))
        with pytest.raises(SourceRequestError, match=r"HTTP 422.*limit must be between 1 and 100"):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})


@pytest.mark.parametrize(
    "body",
    [
        '{"data": []}',  # no meta
        '{"data": [{"id": "1", "subscribed_at": "yesterday"}], "meta": {"next_cursor": null}}',
    ],
)
async def test_unreadable_answers_are_response_errors(connector: MailerliteConnector, body: str) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").respond(200, text=body)
        with pytest.raises(SourceResponseError):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})


@pytest.mark.parametrize("block", range(DOC_BLOCKS))
def test_the_docs_configuration_loads(block: int) -> None:
    text = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)[block]
    config = parse_config(text, environ=DOC_ENV)
    assert config.sources
