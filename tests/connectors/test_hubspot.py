"""The HubSpot connector against respx: CRM search paging and splitting, forms, days, errors, pacing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.hubspot import HubspotConnector, HubspotSettings
from syncd.errors import SourceAuthError, SourceRequestError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://api.hubapi.com"
KEY = "pat-na1-hubspot-test-token-0123"
SEARCH = "/crm/v3/objects/emails/search"
FORM = "3f1c2a3b-5d6e-4f70-8a9b-0c1d2e3f4a5b"
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = SyncWindow(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC), UTC_ZONE)
NO_RESULTS = {"total": 0, "results": []}


def settings(**extra: object) -> HubspotSettings:
    return HubspotSettings.model_validate({"connector": "hubspot", "api_key": KEY, **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[HubspotConnector]:
    hubspot = HubspotConnector(settings(), context)
    yield hubspot
    await hubspot.aclose()


def ms(at: datetime) -> int:
    return int((at - EPOCH) / timedelta(milliseconds=1))


def email(n: int, at: datetime, owner: str | None = "101", direction: str = "EMAIL") -> dict[str, object]:
    stamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    props = {"hs_timestamp": stamp, "hubspot_owner_id": owner, "hs_email_direction": direction}
    return {"id": str(n), "properties": props, "archived": False}


def submission(n: int, at: datetime) -> dict[str, object]:
    return {"conversionId": f"conv-{n}", "submittedAt": ms(at), "values": []}


def search_pages(records: list[dict[str, object]]) -> Callable[[httpx.Request], httpx.Response]:
    """Answer the search like HubSpot: `after` is an offset, pages of `limit`."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        after, limit = int(body.get("after", 0)), body["limit"]
        answer: dict[str, object] = {"total": len(records), "results": records[after : after + limit]}
        if after + limit < len(records):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return httpx.Response(200, json=answer)

    return handler


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = HubspotConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [(m.name, m.subject) for m in klass.metrics] == [
        ("emails_sent", "HubSpot owner id"),
        ("form_submissions", "form id"),
    ]
    assert klass.type_name == "hubspot"


def test_settings_need_a_token_and_accept_forms() -> None:
    with pytest.raises(pydantic.ValidationError, match="api_key"):
        HubspotSettings.model_validate({"connector": "hubspot"})
    assert settings(form_ids=[FORM]).form_ids == [FORM]
    assert KEY not in repr(settings())


async def test_search_pages_200_200_37_with_the_documented_filters(connector: HubspotConnector) -> None:
    start = DAY.start
    records = [email(i, start + timedelta(minutes=3 * i), "101" if i % 2 else "102") for i in range(437)]
    with respx.mock(base_url=BASE) as router:
        route = router.post(SEARCH).mock(side_effect=search_pages(records))
        result = await connector.collect(DAY, {})
    bodies = [json.loads(c.request.content) for c in route.calls]
    assert [b.get("after") for b in bodies] == [None, "200", "400"]
    assert bodies[0]["limit"] == 200
    assert bodies[0]["filterGroups"] == [
        {
            "filters": [
                {"propertyName": "hs_timestamp", "operator": "GTE", "value": str(ms(DAY.start))},
                {"propertyName": "hs_timestamp", "operator": "LT", "value": str(ms(DAY.end))},
                {"propertyName": "hs_email_direction", "operator": "EQ", "value": "EMAIL"},
            ]
        }
    ]
    assert route.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"
    # 3 minutes apart from midnight: 480 in the day, so i = 0..436 all fall on the 7th.
    assert counts_of(result.counts) == {
        ("emails_sent", "101", date(2026, 3, 7)): 218.0,
        ("emails_sent", "102", date(2026, 3, 7)): 219.0,
    }


async def test_a_window_over_10000_results_is_halved_until_each_half_fits(
    connector: HubspotConnector, clock: FakeClock
) -> None:
    # 12,000 emails, one every 7.2 s through the day: the day is too big, each half (6,000) fits.
    start_ms = ms(DAY.start)
    step = 7_200

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        filters = {f["operator"]: int(f["value"]) for f in body["filterGroups"][0]["filters"][:2]}
        first = max(0, -(-(filters["GTE"] - start_ms) // step))
        stop = min(12_000, -(-(filters["LT"] - start_ms) // step))
        after, limit = int(body.get("after", 0)), body["limit"]
        assert after + limit <= 10_000, "HubSpot refuses to page past 10,000"
        ids = range(first + after, min(stop, first + after + limit))
        results = [email(i, EPOCH + timedelta(milliseconds=start_ms + i * step)) for i in ids]
        answer: dict[str, object] = {"total": stop - first, "results": results}
        if first + after + limit < stop:
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return httpx.Response(200, json=answer)

    with respx.mock(base_url=BASE) as router:
        route = router.post(SEARCH).mock(side_effect=handler)
        result = await connector.collect(DAY, {})
    assert counts_of(result.counts) == {("emails_sent", "101", date(2026, 3, 7)): 12_000.0}
    ranges = [
        tuple(int(f["value"]) for f in json.loads(c.request.content)["filterGroups"][0]["filters"][:2])
        for c in route.calls
    ]
    middle = start_ms + 43_200_000
    assert ranges[0] == (start_ms, ms(DAY.end))
    assert ranges[1] == (start_ms, middle)  # the earlier half first, 30 pages of 200
    assert ranges[31] == (middle, ms(DAY.end))
    assert route.call_count == 61
    assert clock.monotonic() >= 15.0  # 61 requests at 4 a second


async def test_window_edges_directions_and_owners(connector: HubspotConnector) -> None:
    start, end = DAY.start, DAY.end
    records = [
        email(1, start - timedelta(milliseconds=1)),  # a vendor's inclusive bound: not counted
        email(2, start),  # counted once
        email(2, start),  # the same email twice: one
        email(3, start + timedelta(hours=1), direction="INCOMING_EMAIL"),  # a reply, not a send
        email(4, start + timedelta(hours=2), owner=None),
        email(5, end - timedelta(milliseconds=1)),
        email(6, end),  # not counted
    ]
    with respx.mock(base_url=BASE) as router:
        router.post(SEARCH).respond(json={"total": len(records), "results": records})
        result = await connector.collect(DAY, {})
    assert counts_of(result.counts) == {
        ("emails_sent", "101", date(2026, 3, 7)): 2.0,
        ("emails_sent", "unassigned", date(2026, 3, 7)): 1.0,
    }


async def test_fixture_shapes(context: ConnectorContext) -> None:
    hubspot = HubspotConnector(settings(form_ids=[FORM]), context)
    with respx.mock(base_url=BASE) as router:
        router.post(SEARCH).respond(json=load_fixture("hubspot", "emails_search.json"))
        router.get(f"/form-integrations/v1/submissions/forms/{FORM}").respond(
            json=load_fixture("hubspot", "form_submissions.json")
        )
        result = await hubspot.collect(DAY, {})
    await hubspot.aclose()
    assert counts_of(result.counts) == {
        ("emails_sent", "1453000101", date(2026, 3, 7)): 1.0,
        ("emails_sent", "unassigned", date(2026, 3, 7)): 1.0,
        ("form_submissions", FORM, date(2026, 3, 7)): 2.0,
    }


async def test_days_are_local_days(context: ConnectorContext) -> None:
    hubspot = HubspotConnector(settings(form_ids=[FORM]), context)
    window = SyncWindow(datetime(2026, 3, 7, tzinfo=NEW_YORK), datetime(2026, 3, 9, tzinfo=NEW_YORK), NEW_YORK)
    with respx.mock(base_url=BASE) as router:
        router.post(SEARCH).respond(
            json={
                "total": 2,
                "results": [
                    email(1, datetime(2026, 3, 8, 4, 30, tzinfo=UTC)),
                    email(2, datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),
                ],
            }
        )
        router.get(f"/form-integrations/v1/submissions/forms/{FORM}").respond(
            json={"results": [submission(1, datetime(2026, 3, 8, 4, 30, tzinfo=UTC))]}
        )
        result = await hubspot.collect(window, {})
    await hubspot.aclose()
    assert counts_of(result.counts) == {
        ("emails_sent", "101", date(2026, 3, 7)): 1.0,  # 23:30 EST on the 7th
        ("emails_sent", "101", date(2026, 3, 8)): 1.0,  # 03:30 EDT on the 8th
        ("form_submissions", FORM, date(2026, 3, 7)): 1.0,
    }


async def test_form_submissions_stop_once_a_page_reaches_before_the_window(context: ConnectorContext) -> None:
    hubspot = HubspotConnector(settings(form_ids=[FORM]), context)
    start = DAY.start
    pages = [
        {
            "results": [submission(n, DAY.end - timedelta(minutes=10 * n + 1)) for n in range(50)],
            "paging": {"next": {"after": "cur1", "link": "https://api.hubapi.com/..."}},
        },
        {
            "results": [submission(50, start), submission(51, start - timedelta(milliseconds=1))],
            "paging": {"next": {"after": "cur2"}},
        },
        {"results": [submission(52, start - timedelta(days=1))]},
    ]
    with respx.mock(base_url=BASE) as router:
        router.post(SEARCH).respond(json=NO_RESULTS)
        route = router.get(f"/form-integrations/v1/submissions/forms/{FORM}").mock(
            side_effect=[httpx.Response(200, json=p) for p in pages]
        )
        result = await hubspot.collect(DAY, {})
    await hubspot.aclose()
    assert [c.request.url.params.get("after") for c in route.calls] == [None, "cur1"]
    assert route.calls[0].request.url.params["limit"] == "50"
    assert counts_of(result.counts) == {("form_submissions", FORM, date(2026, 3, 7)): 51.0}


async def test_empty_account(connector: HubspotConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.post(SEARCH).respond(json=NO_RESULTS)
        result = await connector.collect(DAY, {})
    assert result.counts == []
    assert observer.codes == ["200"]


async def test_rate_limit_then_success(connector: HubspotConnector, clock: FakeClock) -> None:
    limited = httpx.Response(
        429,
        json=load_fixture("hubspot", "error_rate_limit.json"),
        headers={"X-HubSpot-RateLimit-Secondly": "4", "X-HubSpot-RateLimit-Secondly-Remaining": "0"},
    )
    with respx.mock(base_url=BASE) as router:
        router.post(SEARCH).mock(
            side_effect=[limited, httpx.Response(200, json={"total": 1, "results": [email(1, DAY.start)]})]
        )
        result = await connector.collect(DAY, {})
    assert len(clock.sleeps) == 1
    assert 1.0 <= clock.sleeps[0] <= 2.0
    assert counts_of(result.counts) == {("emails_sent", "101", date(2026, 3, 7)): 1.0}


async def test_paces_itself_at_4_searches_a_second(connector: HubspotConnector, clock: FakeClock) -> None:
    records = [email(i, DAY.start + timedelta(seconds=i)) for i in range(1800)]  # 9 pages
    with respx.mock(base_url=BASE) as router:
        route = router.post(SEARCH).mock(side_effect=search_pages(records))
        await connector.collect(DAY, {})
    assert route.call_count == 9
    assert clock.sleeps == [1.0, 1.0]  # the 5th and 9th requests waited


async def test_bad_token_is_an_auth_error_after_one_request(connector: HubspotConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/crm/v3/objects/emails").respond(401, json=load_fixture("hubspot", "error_401.json"))
        with pytest.raises(SourceAuthError) as caught:
            await connector.check()
    assert route.call_count == 1
    assert KEY not in str(caught.value)


async def test_a_validation_error_is_a_request_error(connector: HubspotConnector) -> None:
    body = {"status": "error", "message": "Invalid input JSON on line 1", "category": "VALIDATION_ERROR"}
    with respx.mock(base_url=BASE) as router:
        router.post(SEARCH).respond(400, json=body)
        with pytest.raises(SourceRequestError, match="VALIDATION_ERROR"):
            await connector.collect(DAY, {})
