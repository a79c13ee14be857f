"""The Ahrefs connector against respx: narrowing `where` windows, first-seen days, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import respx

from connectors.ahrefs import AhrefsConnector, AhrefsSettings
from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from syncd.errors import SourceAuthError, SourceRequestError, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://api.ahrefs.com/v3"
KEY = "ahrefs_test_key_0123456789abcdef"
NEW_YORK = ZoneInfo("America/New_York")
REFDOMAINS = "/site-explorer/refdomains"
BACKLINKS = "/site-explorer/all-backlinks"


def settings(**extra: object) -> AhrefsSettings:
    return AhrefsSettings.model_validate({"connector": "ahrefs", "api_key": KEY, "target": "acme.io", **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[AhrefsConnector]:
    ahrefs = AhrefsConnector(settings(), context)
    yield ahrefs
    await ahrefs.aclose()


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def domains(*rows: tuple[str, datetime]) -> dict[str, object]:
    return {"refdomains": [{"domain": name, "first_seen": stamp(at)} for name, at in rows]}


def links(*rows: tuple[str, datetime]) -> dict[str, object]:
    return {
        "backlinks": [
            {"url_from": url, "url_to": "https://acme.io/", "first_seen_link": stamp(at), "first_seen": stamp(at)}
            for url, at in rows
        ]
    }


def ny_window(first: date, last_exclusive: date) -> SyncWindow:
    return SyncWindow(
        start=datetime(first.year, first.month, first.day, tzinfo=NEW_YORK),
        end=datetime(last_exclusive.year, last_exclusive.month, last_exclusive.day, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


def where_bounds(request: httpx.Request) -> tuple[str, str]:
    where = json.loads(request.url.params["where"])
    (lower,) = [c["is"][1] for c in where["and"] if c["is"][0] == "gte"]
    (upper,) = [c["is"][1] for c in where["and"] if c["is"][0] == "lt"]
    return lower, upper


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = AhrefsConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [m.name for m in klass.metrics] == ["new_referring_domains", "new_backlinks", "referring_domains"]
    assert klass.type_name == "ahrefs"


def test_settings_need_a_target_and_a_known_mode() -> None:
    with pytest.raises(pydantic.ValidationError, match="target"):
        AhrefsSettings.model_validate({"connector": "ahrefs", "api_key": KEY})
    with pytest.raises(pydantic.ValidationError, match="mode"):
        settings(mode="everything")
    assert settings().mode == "subdomains"


async def test_request_shape(connector: AhrefsConnector) -> None:
    window = ny_window(date(2026, 3, 7), date(2026, 3, 9))
    with respx.mock(base_url=BASE) as router:
        domains_route = router.get(REFDOMAINS).respond(json={"refdomains": []})
        links_route = router.get(BACKLINKS).respond(json={"backlinks": []})
        await connector.collect(window, {})
    request = domains_route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in str(request.url)
    params = dict(request.url.params)
    assert json.loads(params.pop("where")) == {
        "and": [
            {"field": "first_seen", "is": ["gte", "2026-03-07T05:00:00Z"]},
            {"field": "first_seen", "is": ["lt", "2026-03-09T04:00:00Z"]},  # EDT from the 8th
        ]
    }
    assert params == {
        "target": "acme.io",
        "mode": "subdomains",
        "select": "domain,first_seen",
        "order_by": "first_seen:asc",
        "limit": "1000",
        "history": "all_time",
    }
    backlinks = dict(links_route.calls.last.request.url.params)
    assert backlinks["aggregation"] == "all"
    assert backlinks["order_by"] == "first_seen_link:asc"
    assert json.loads(backlinks["where"])["and"][0]["field"] == "first_seen_link"


async def test_full_responses_narrow_the_window_and_count_repeats_once(connector: AhrefsConnector) -> None:
    window = ny_window(date(2026, 3, 7), date(2026, 3, 9))
    first = datetime(2026, 3, 7, 12, tzinfo=UTC)
    # 1000 rows a minute apart from 12:00Z on the 7th; the last two share the instant 04:38Z on the 8th.
    full = [(f"d{i}.com", first + timedelta(minutes=i)) for i in range(999)]
    shared = full[-1][1]
    full.append(("d999.com", shared))
    rest = [("d998.com", shared), ("d999.com", shared), ("e1.com", shared), ("e2.com", shared + timedelta(hours=1))]

    def handler(request: httpx.Request) -> httpx.Response:
        lower, _ = where_bounds(request)
        return httpx.Response(200, json=domains(*(full if lower == "2026-03-07T05:00:00Z" else rest)))

    with respx.mock(base_url=BASE) as router:
        route = router.get(REFDOMAINS).mock(side_effect=handler)
        router.get(BACKLINKS).respond(json={"backlinks": []})
        result = await connector.collect(window, {})
    assert [where_bounds(c.request) for c in route.calls] == [
        ("2026-03-07T05:00:00Z", "2026-03-09T04:00:00Z"),
        (stamp(shared), "2026-03-09T04:00:00Z"),
    ]
    # Minutes 0..998 after 12:00Z on the 7th end at 04:38Z on the 8th, still the 7th in New York
    # (which ends at 05:00Z): 1000 domains, plus e1; e2 at 05:38Z is 00:38 EST on the 8th.
    assert counts_of(result.counts) == {
        ("new_referring_domains", "acme.io", date(2026, 3, 7)): 1001.0,
        ("new_referring_domains", "acme.io", date(2026, 3, 8)): 1.0,
    }


async def test_window_edges_and_local_days(connector: AhrefsConnector) -> None:
    window = ny_window(date(2026, 3, 7), date(2026, 3, 9))
    rows = [
        ("before.com", window.start - timedelta(seconds=1)),  # a server ignoring `where` sends it
        ("start.com", window.start),
        ("late.com", datetime(2026, 3, 8, 4, 30, tzinfo=UTC)),  # 23:30 EST on the 7th
        ("after-jump.com", datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),  # 03:30 EDT on the 8th
        ("last.com", window.end - timedelta(seconds=1)),
        ("end.com", window.end),
    ]
    with respx.mock(base_url=BASE) as router:
        router.get(REFDOMAINS).respond(json=domains(*rows))
        router.get(BACKLINKS).respond(json=links(("https://x.com/a", window.start), ("https://x.com/b", window.end)))
        result = await connector.collect(window, {})
    assert counts_of(result.counts) == {
        ("new_referring_domains", "acme.io", date(2026, 3, 7)): 2.0,
        ("new_referring_domains", "acme.io", date(2026, 3, 8)): 2.0,
        ("new_backlinks", "acme.io", date(2026, 3, 7)): 1.0,
    }


async def test_fixtures_count_links_by_first_seen_link(connector: AhrefsConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get(REFDOMAINS).respond(json=load_fixture("ahrefs", "refdomains.json"))
        router.get(BACKLINKS).respond(json=load_fixture("ahrefs", "all_backlinks.json"))
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    # 02:03Z on the 8th is 21:03 EST on the 7th; the page first seen in 2025 does not move its link.
    assert counts_of(result.counts) == {
        ("new_referring_domains", "acme.io", date(2026, 3, 7)): 3.0,
        ("new_backlinks", "acme.io", date(2026, 3, 7)): 3.0,
    }


async def test_more_rows_on_one_instant_than_a_response_holds_is_an_error(connector: AhrefsConnector) -> None:
    window = ny_window(date(2026, 3, 7), date(2026, 3, 8))
    same = [(f"d{i}.com", window.start) for i in range(1000)]
    with respx.mock(base_url=BASE) as router:
        route = router.get(REFDOMAINS).respond(json=domains(*same))
        with pytest.raises(SourceResponseError, match="share the first-seen instant"):
            await connector.collect(window, {})
    assert route.call_count == 1


async def test_empty_account(connector: AhrefsConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get(REFDOMAINS).respond(json={"refdomains": []})
        router.get(BACKLINKS).respond(json={"backlinks": []})
        result = await connector.collect(ny_window(date(2026, 3, 1), date(2026, 3, 8)), {})
    assert result.counts == []
    assert observer.codes == ["200", "200"]


async def test_429_then_success(connector: AhrefsConnector, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get(REFDOMAINS).mock(
            side_effect=[
                httpx.Response(429, json={"error": "Too many requests"}),
                httpx.Response(200, json=domains(("a.com", datetime(2026, 3, 7, 15, tzinfo=UTC)))),
            ]
        )
        router.get(BACKLINKS).respond(json={"backlinks": []})
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    # Ahrefs sends no Retry-After: one exponential backoff of 1 s plus up to 1 s of jitter.
    assert len(clock.sleeps) == 1
    assert 1.0 <= clock.sleeps[0] <= 2.0
    assert counts_of(result.counts) == {("new_referring_domains", "acme.io", date(2026, 3, 7)): 1.0}


async def test_paces_at_60_requests_per_minute(connector: AhrefsConnector, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/subscription-info/limits-and-usage").respond(
            json=load_fixture("ahrefs", "limits_and_usage.json")
        )
        for _ in range(61):
            await connector.check()
    assert route.call_count == 61
    assert clock.sleeps == [60.0]


async def test_bad_key_is_an_auth_error_after_one_request(connector: AhrefsConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/subscription-info/limits-and-usage").respond(401, json={"error": "Invalid API key"})
        with pytest.raises(SourceAuthError, match=r"HTTP 401") as caught:
            await connector.check()
    assert route.call_count == 1
    assert KEY not in repr(caught.value)


async def test_vendor_error_body_is_quoted_in_a_request_error(connector: AhrefsConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get(REFDOMAINS).respond(400, json={"error": "unknown field in where: first_seen"})
        with pytest.raises(SourceRequestError, match="unknown field in where"):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert route.call_count == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"refdomains": [{"domain": "a.com", "first_seen": "yesterday"}]}',
        '{"domains": []}',
    ],
)
async def test_unreadable_answers_are_response_errors(connector: AhrefsConnector, body: str) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get(REFDOMAINS).respond(200, text=body)
        with pytest.raises(SourceResponseError):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})


async def test_referring_domains_held_only_when_a_kpi_reads_them(context: ConnectorContext) -> None:
    window = ny_window(date(2026, 11, 1), date(2026, 11, 4))
    reading = AhrefsConnector(settings(), replace(context, metrics=frozenset({"referring_domains"})))
    history = {"refdomains": [
        {"date": "2026-10-31", "refdomains": 1190},  # before the window: not stored
        {"date": "2026-11-01", "refdomains": 1200},
        {"date": "2026-11-03", "refdomains": 1212},
    ]}  # fmt: skip
    try:
        with respx.mock(base_url=BASE) as router:
            router.get(REFDOMAINS).respond(json={"refdomains": []})
            router.get(BACKLINKS).respond(json={"backlinks": []})
            held = router.get("/site-explorer/refdomains-history").respond(json=history)
            result = await reading.collect(window, {})
    finally:
        await reading.aclose()
    params = dict(held.calls.last.request.url.params)
    assert params == {"target": "acme.io", "mode": "subdomains", "date_from": "2026-11-01", "date_to": "2026-11-03",
                      "history_grouping": "daily"}  # fmt: skip
    assert counts_of(result.counts) == {
        ("referring_domains", "acme.io", date(2026, 11, 1)): 1200.0,
        ("referring_domains", "acme.io", date(2026, 11, 3)): 1212.0,
    }


async def test_no_history_call_when_no_kpi_reads_the_level(connector: AhrefsConnector) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get(REFDOMAINS).respond(json={"refdomains": []})
        router.get(BACKLINKS).respond(json={"backlinks": []})
        held = router.get("/site-explorer/refdomains-history").respond(json={"refdomains": []})
        await connector.collect(ny_window(date(2026, 11, 1), date(2026, 11, 4)), {})
    assert held.call_count == 0
