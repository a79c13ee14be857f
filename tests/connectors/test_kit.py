"""The Kit connector against respx: cursor paging, padded date filters, local days and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.kit import KitConnector, KitSettings
from syncd.errors import SourceAuthError, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://api.kit.com/v4"
KEY = "kit_test_key_abcdef123456"
NEW_YORK = ZoneInfo("America/New_York")


def settings(**extra: object) -> KitSettings:
    return KitSettings.model_validate({"connector": "kit", "api_key": KEY, **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[KitConnector]:
    kit = KitConnector(settings(), context)
    yield kit
    await kit.aclose()


def subscriber(sub_id: int, created_at: datetime) -> dict[str, object]:
    return {
        "id": sub_id,
        "first_name": None,
        "email_address": f"reader{sub_id}@example.com",
        "state": "active",
        "created_at": created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fields": {},
    }


def page(items: list[dict[str, object]], end_cursor: str | None, has_next: bool) -> dict[str, object]:
    return {
        "subscribers": items,
        "pagination": {
            "has_previous_page": False,
            "has_next_page": has_next,
            "start_cursor": None,
            "end_cursor": end_cursor,
            "per_page": 1000,
        },
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
    klass: type[Connector] = KitConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [m.name for m in klass.metrics] == ["new_subscribers"]
    assert klass.type_name == "kit"


def test_settings_need_a_key_and_read_a_numeric_tag_as_text() -> None:
    with pytest.raises(pydantic.ValidationError, match="api_key"):
        KitSettings.model_validate({"connector": "kit"})
    assert settings(tag_id=4821).tag_id == "4821"


async def test_cursor_over_three_pages(connector: KitConnector) -> None:
    day = datetime(2026, 3, 7, 15, tzinfo=UTC)  # 10:00 EST on the 7th
    pages = {
        None: page([subscriber(i, day) for i in range(1, 4)], "cur_1", True),
        "cur_1": page([subscriber(i, day + timedelta(days=1)) for i in range(4, 6)], "cur_2", True),
        "cur_2": page([subscriber(6, day + timedelta(days=1))], "cur_3", False),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("after")])

    with respx.mock(base_url=BASE) as router:
        route = router.get("/subscribers").mock(side_effect=handler)
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 9)), {})
    assert [c.request.url.params.get("after") for c in route.calls] == [None, "cur_1", "cur_2"]
    assert counts_of(result.counts) == {
        ("new_subscribers", "all", date(2026, 3, 7)): 3.0,
        ("new_subscribers", "all", date(2026, 3, 8)): 3.0,
    }


async def test_request_shape_and_padded_dates(connector: KitConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/subscribers").respond(json=page([], None, False))
        await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 9)), {})
    request = route.calls.last.request
    assert request.url.path == "/v4/subscribers"
    assert request.headers["X-Kit-Api-Key"] == KEY
    assert KEY not in str(request.url)
    # The window is 2026-03-07 05:00Z .. 2026-03-09 04:00Z: UTC dates 7th..9th, padded a day each side.
    assert dict(request.url.params) == {
        "created_after": "2026-03-06",
        "created_before": "2026-03-10",
        "status": "all",
        "per_page": "1000",
    }


async def test_window_edges_and_local_days(connector: KitConnector) -> None:
    window = ny_window(date(2026, 3, 7), date(2026, 3, 9))
    items = [
        subscriber(1, window.start - timedelta(seconds=1)),  # the padded filter lets it through
        subscriber(2, window.start),
        # 23:30 EST on the 7th is 04:30 UTC on the 8th.
        subscriber(3, datetime(2026, 3, 8, 4, 30, tzinfo=UTC)),
        subscriber(4, datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),  # 03:30 EDT on the 8th, after the jump
        subscriber(5, window.end - timedelta(seconds=1)),  # 23:59:59 EDT on the 8th
        subscriber(6, window.end),
    ]
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").respond(json=page(items, None, False))
        result = await connector.collect(window, {})
    assert counts_of(result.counts) == {
        ("new_subscribers", "all", date(2026, 3, 7)): 2.0,
        ("new_subscribers", "all", date(2026, 3, 8)): 2.0,
    }


async def test_fixture_page(connector: KitConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").respond(json=load_fixture("kit", "subscribers_page.json"))
        result = await connector.collect(
            SyncWindow(
                start=datetime(2026, 3, 6, tzinfo=UTC),
                end=datetime(2026, 3, 8, tzinfo=UTC),
                timezone=ZoneInfo("UTC"),
            ),
            {},
        )
    # The cancelled subscriber still opted in on the 6th.
    assert counts_of(result.counts) == {
        ("new_subscribers", "all", date(2026, 3, 6)): 1.0,
        ("new_subscribers", "all", date(2026, 3, 7)): 1.0,
    }


async def test_tag_reads_the_tag_endpoint_and_is_the_subject(context: ConnectorContext) -> None:
    kit = KitConnector(settings(tag_id=4821), context)
    with respx.mock(base_url=BASE) as router:
        route = router.get("/tags/4821/subscribers").respond(json=load_fixture("kit", "tag_subscribers_page.json"))
        result = await kit.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    await kit.aclose()
    assert route.call_count == 1
    assert counts_of(result.counts) == {("new_subscribers", "4821", date(2026, 3, 7)): 1.0}


async def test_empty_account_gives_no_counts(connector: KitConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").respond(json=page([], None, False))
        result = await connector.collect(ny_window(date(2026, 3, 1), date(2026, 3, 8)), {})
    assert result.counts == []
    assert observer.codes == ["200"]


async def test_429_with_retry_after_then_success(connector: KitConnector, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "15"}),
                httpx.Response(200, json=page([subscriber(1, datetime(2026, 3, 7, 12, tzinfo=UTC))], None, False)),
            ]
        )
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert clock.sleeps == [15.0]
    assert counts_of(result.counts) == {("new_subscribers", "all", date(2026, 3, 7)): 1.0}


async def test_paces_at_120_requests_per_minute(connector: KitConnector, clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("after", "0"))
        return httpx.Response(200, json=page([], str(number + 1), number + 1 < 121))

    with respx.mock(base_url=BASE) as router:
        route = router.get("/subscribers").mock(side_effect=handler)
        await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert route.call_count == 121
    assert clock.sleeps == [60.0]


async def test_check_reads_the_account(connector: KitConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/account").respond(json=load_fixture("kit", "account.json"))
        await connector.check()
    assert route.call_count == 1


async def test_bad_key_is_an_auth_error_after_one_request(connector: KitConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/account").respond(401, json={"errors": ["The access token is invalid"]})
        with pytest.raises(SourceAuthError, match=r"HTTP 401") as caught:
            await connector.check()
    assert route.call_count == 1
    assert KEY not in repr(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"subscribers": [{"id": 1, "created_at": "2026-03-07T10:00:00"}], "pagination": {}}',  # no zone
        '{"subscribers": []}',  # no pagination
    ],
)
async def test_unreadable_answers_are_response_errors(connector: KitConnector, body: str) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/subscribers").respond(200, text=body)
        with pytest.raises(SourceResponseError):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
