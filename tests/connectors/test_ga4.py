"""The GA4 connector against respx: runReport by date, string values, offset paging, zones and errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.ga4 import Ga4Connector, Ga4Settings
from syncd.errors import SourceAuthError, SourceRequestError, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://analyticsdata.googleapis.com/v1beta"
TOKEN = "ya29.ga4-test-token-0123456789"
NEW_YORK = ZoneInfo("America/New_York")
REPORT = "/properties/123456789:runReport"


def settings(**extra: object) -> Ga4Settings:
    return Ga4Settings.model_validate({"connector": "ga4", "api_key": TOKEN, "property_id": 123456789, **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[Ga4Connector]:
    ga4 = Ga4Connector(settings(), context)
    yield ga4
    await ga4.aclose()


def ny_window(first: date, last_exclusive: date) -> SyncWindow:
    return SyncWindow(
        start=datetime(first.year, first.month, first.day, tzinfo=NEW_YORK),
        end=datetime(last_exclusive.year, last_exclusive.month, last_exclusive.day, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


def report(
    rows: list[tuple[str, str, str]], row_count: int | None = None, zone: str = "America/New_York"
) -> dict[str, object]:
    body: dict[str, object] = {
        "dimensionHeaders": [{"name": "date"}],
        "metricHeaders": [{"name": "sessions", "type": "TYPE_INTEGER"}, {"name": "totalUsers", "type": "TYPE_INTEGER"}],
        "metadata": {"currencyCode": "USD", "timeZone": zone},
        "kind": "analyticsData#runReport",
    }
    if rows:
        body["rows"] = [
            {"dimensionValues": [{"value": d}], "metricValues": [{"value": s}, {"value": u}]} for d, s, u in rows
        ]
        body["rowCount"] = len(rows) if row_count is None else row_count
    return body


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = Ga4Connector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [m.name for m in klass.metrics] == ["sessions", "total_users"]


def test_property_id_is_numeric_text() -> None:
    assert settings().property_id == "123456789"
    assert settings(property_id="properties/42").property_id == "42"
    with pytest.raises(pydantic.ValidationError, match="numeric"):
        settings(property_id="G-ABC123")


async def test_request_shape_asks_for_every_day_the_window_touches(connector: Ga4Connector) -> None:
    window = SyncWindow(
        start=datetime(2026, 3, 6, tzinfo=NEW_YORK), end=datetime(2026, 3, 8, 9, 15, tzinfo=NEW_YORK), timezone=NEW_YORK
    )
    with respx.mock(base_url=BASE) as router:
        route = router.post(REPORT).respond(json=report([]))
        await connector.collect(window, {})
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {
        "dateRanges": [{"startDate": "2026-03-06", "endDate": "2026-03-08"}],
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": "sessions"}, {"name": "totalUsers"}],
        "limit": 10000,
        "offset": 0,
    }


async def test_a_window_ending_at_midnight_stops_the_day_before(connector: Ga4Connector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.post(REPORT).respond(json=report([]))
        await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert json.loads(route.calls.last.request.content)["dateRanges"] == [
        {"startDate": "2026-03-07", "endDate": "2026-03-07"}
    ]


async def test_fixture_string_values_and_unordered_rows(connector: Ga4Connector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.post(REPORT).respond(json=load_fixture("ga4", "run_report.json"))
        result = await connector.collect(ny_window(date(2026, 3, 6), date(2026, 3, 8)), {})
    assert counts_of(result.counts) == {
        ("sessions", "123456789", date(2026, 3, 6)): 388.0,
        ("total_users", "123456789", date(2026, 3, 6)): 290.0,
        ("sessions", "123456789", date(2026, 3, 7)): 412.0,
        ("total_users", "123456789", date(2026, 3, 7)): 305.0,
    }
    assert result.notes == ()


async def test_rows_outside_the_asked_days_are_ignored(connector: Ga4Connector) -> None:
    rows = [("20260306", "5", "4"), ("20260307", "9", "8"), ("20260308", "7", "7")]
    with respx.mock(base_url=BASE) as router:
        router.post(REPORT).respond(json=report(rows))
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert counts_of(result.counts) == {
        ("sessions", "123456789", date(2026, 3, 7)): 9.0,
        ("total_users", "123456789", date(2026, 3, 7)): 8.0,
    }


async def test_offset_paging_until_row_count(connector: Ga4Connector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors.ga4.PAGE_SIZE", 2)
    pages = {
        0: report([("20260301", "1", "1"), ("20260302", "2", "2")], row_count=5),
        2: report([("20260303", "3", "3"), ("20260304", "4", "4")], row_count=5),
        4: report([("20260305", "5", "5")], row_count=5),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["limit"] == 2
        return httpx.Response(200, json=pages[body["offset"]])

    with respx.mock(base_url=BASE) as router:
        route = router.post(REPORT).mock(side_effect=handler)
        result = await connector.collect(ny_window(date(2026, 3, 1), date(2026, 3, 8)), {})
    assert route.call_count == 3
    sessions = {c.day.day: c.value for c in result.counts if c.metric == "sessions"}
    assert sessions == {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0, 5: 5.0}


async def test_a_property_in_another_zone_is_noted(connector: Ga4Connector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.post(REPORT).respond(json=report([("20260307", "9", "8")], zone="America/Los_Angeles"))
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert result.notes == (
        "the GA4 property reports days in America/Los_Angeles, not America/New_York: its daily counts "
        "are America/Los_Angeles days filed under the same dates",
    )
    assert counts_of(result.counts)[("sessions", "123456789", date(2026, 3, 7))] == 9.0


async def test_empty_property(connector: Ga4Connector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.post(REPORT).respond(json=load_fixture("ga4", "run_report_empty.json"))
        result = await connector.collect(ny_window(date(2026, 3, 1), date(2026, 3, 8)), {})
    assert result.counts == []
    assert observer.codes == ["200"]


async def test_resource_exhausted_then_success(connector: Ga4Connector, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        router.post(REPORT).mock(
            side_effect=[
                httpx.Response(429, json=load_fixture("ga4", "error_exhausted.json")),
                httpx.Response(200, json=report([("20260307", "3", "2")])),
            ]
        )
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert len(clock.sleeps) == 1
    assert 1.0 <= clock.sleeps[0] <= 2.0
    assert counts_of(result.counts)[("total_users", "123456789", date(2026, 3, 7))] == 2.0


async def test_bad_token_is_an_auth_error_after_one_request(connector: Ga4Connector) -> None:
    body = {
        "error": {
            "code": 401,
            "message": "Request had invalid authentication credentials.",
            "status": "UNAUTHENTICATED",
        }
    }
    with respx.mock(base_url=BASE) as router:
        route = router.post(REPORT).respond(401, json=body)
        with pytest.raises(SourceAuthError, match=r"HTTP 401") as caught:
            await connector.check()
    assert route.call_count == 1
    assert TOKEN not in repr(caught.value)


async def test_invalid_argument_is_a_request_error_quoting_google(connector: Ga4Connector) -> None:
    body = {"error": {"code": 400, "message": "Field totalUser is not a valid metric.", "status": "INVALID_ARGUMENT"}}
    with respx.mock(base_url=BASE) as router:
        router.post(REPORT).respond(400, json=body)
        with pytest.raises(SourceRequestError, match="not a valid metric"):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})


async def test_check_runs_a_one_row_report(connector: Ga4Connector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.post(REPORT).respond(json=report([]))
        await connector.check()
    assert json.loads(route.calls.last.request.content)["limit"] == 1


@pytest.mark.parametrize(
    "rows",
    [[("2026-03-07", "1", "1")], [("20260307", "many", "1")]],
)
async def test_unreadable_rows_are_response_errors(connector: Ga4Connector, rows: list[tuple[str, str, str]]) -> None:
    with respx.mock(base_url=BASE) as router:
        router.post(REPORT).respond(json=report(rows))
        with pytest.raises(SourceResponseError):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
