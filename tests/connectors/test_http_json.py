"""The generic http_json connector against respx: templates, paths, four paginations, counts, errors."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.http_json import HttpJsonConnector, HttpJsonSettings
from connectors.jsonpath import parse_path
from syncd.config import parse_config
from syncd.errors import SourceAuthError, SourceRequestError, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

KEY = "calls-api-key-0123456789"
NEW_YORK = ZoneInfo("America/New_York")
CALLS: dict[str, object] = {
    "connector": "http_json",
    "api_key": KEY,
    "url": "https://api.calls.example/v1/calls?since={start}&until={end}&limit=100",
    "metric": "calls_held",
    "items_path": "data",
    "date_field": "created_at",
    "subject_path": "owner.email",
    "id_path": "id",
    "pagination": "cursor",
    "cursor_path": "meta.next_cursor",
    "cursor_param": "cursor",
}
COUNT: dict[str, object] = {
    "connector": "http_json",
    "api_key": KEY,
    "url": "https://api.calls.example/v1/calls/count?from={start:epoch}&to={end:epoch}",
    "metric": "calls_held",
    "count_path": "count",
    "auth_header": "X-Api-Key",
    "auth_scheme": None,
}
DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "http_json.md"
DOC_BLOCKS = 2
DOC_ENV = {"CALLS_API_KEY": "calls-key-0001"}


def settings(base: dict[str, object], **extra: object) -> HttpJsonSettings:
    return HttpJsonSettings.model_validate({**base, **extra})


@pytest.fixture
async def calls(context: ConnectorContext) -> AsyncIterator[HttpJsonConnector]:
    connector = HttpJsonConnector(settings(CALLS), context)
    yield connector
    await connector.aclose()


def call(n: int, at: datetime, owner: str = "alice@acme.io") -> dict[str, object]:
    return {"id": n, "created_at": f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z", "owner": {"email": owner}}


def calls_page(items: list[dict[str, object]], cursor: str | None) -> dict[str, object]:
    return {"data": items, "meta": {"next_cursor": cursor}}


def ny_window(first: date, last_exclusive: date) -> SyncWindow:
    return SyncWindow(
        start=datetime(first.year, first.month, first.day, tzinfo=NEW_YORK),
        end=datetime(last_exclusive.year, last_exclusive.month, last_exclusive.day, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


# --- the path reader ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data.items", [[1, 2]]),
        ("$.data.items", [[1, 2]]),
        ("$.data.items[*]", [1, 2]),
        ("data.items[1]", [2]),
        ("data.items[-1]", [2]),
        ('meta["next-url"]', ["/p2"]),
        ("$.rows[*].n", [3, 4]),
        ("missing.key", []),
        ("data.items[5]", []),
    ],
)
def test_paths_read_keys_indexes_and_wildcards(path: str, expected: list[object]) -> None:
    document = {"data": {"items": [1, 2]}, "meta": {"next-url": "/p2"}, "rows": [{"n": 3}, {"n": 4}]}
    assert parse_path(path).find(document) == expected


def test_the_root_path_and_bad_paths() -> None:
    assert parse_path("$").find([1]) == [[1]]
    assert parse_path("").first({"a": 1}) == {"a": 1}
    for bad in ("a..b", "a[", "a[x]"):
        with pytest.raises(ValueError, match="cannot read JSON path"):
            parse_path(bad)


# --- settings ----------------------------------------------------------------------------------


async def test_satisfies_the_contract_and_declares_no_metrics(context: ConnectorContext) -> None:
    klass: type[Connector] = HttpJsonConnector
    instance = klass(settings(CALLS), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert klass.metrics == ()
    assert klass.type_name == "http_json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"count_path": "count"}, "exactly one of date_field"),
        ({"level_path": "total"}, "exactly one of date_field"),
        ({"items_path": None}, "date_field needs items_path"),
        ({"cursor_param": None}, "cursor_path and cursor_param"),
        ({"pagination": "next_link"}, "next_link_path"),
        ({"date_format": "%Y-%m-%d %H:%M"}, "set date_timezone"),
        ({"date_format": "unix"}, "date_format must be"),
        ({"url": "https://x.example/c?since={start:weird}"}, "unknown time format"),
        ({"url": "/v1/calls"}, "http:// or https://"),
        ({"api_key": None}, "api_key is required"),
        ({"subject_path": "a..b"}, "subject_path"),
        ({"date_timezone": "Mars/Olympus"}, "unknown date_timezone"),
    ],
)
def test_inconsistent_settings_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        settings(CALLS, **change)


def test_an_open_api_needs_no_key() -> None:
    open_api = settings(CALLS, api_key=None, auth_header=None)
    assert open_api.api_key is None
    assert open_api.requires_api_key is False


# --- items by date -----------------------------------------------------------------------------


async def test_request_shape_and_cursor_to_the_end(calls: HttpJsonConnector) -> None:
    at = datetime(2026, 3, 7, 15, tzinfo=UTC)
    pages = {
        None: calls_page([call(1, at), call(2, at, "bob@acme.io")], "p2"),
        "p2": calls_page([call(3, at + timedelta(days=1))], "p3"),
        "p3": calls_page([], None),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    with respx.mock(base_url="https://api.calls.example") as router:
        route = router.get("/v1/calls").mock(side_effect=handler)
        result = await calls.collect(ny_window(date(2026, 3, 7), date(2026, 3, 9)), {})
    first = route.calls[0].request
    assert first.headers["Authorization"] == f"Bearer {KEY}"
    assert dict(first.url.params) == {"since": "2026-03-07T05:00:00Z", "until": "2026-03-09T04:00:00Z", "limit": "100"}
    assert [c.request.url.params.get("cursor") for c in route.calls] == [None, "p2", "p3"]
    assert route.calls[2].request.url.params["since"] == "2026-03-07T05:00:00Z"
    assert counts_of(result.counts) == {
        ("calls_held", "alice@acme.io", date(2026, 3, 7)): 1.0,
        ("calls_held", "bob@acme.io", date(2026, 3, 7)): 1.0,
        ("calls_held", "alice@acme.io", date(2026, 3, 8)): 1.0,
    }


async def test_window_edges_and_local_days(calls: HttpJsonConnector) -> None:
    window = ny_window(date(2026, 3, 7), date(2026, 3, 9))
    items = [
        call(1, window.start - timedelta(seconds=1)),
        call(2, window.start),
        call(3, datetime(2026, 3, 8, 4, 30, tzinfo=UTC)),  # 23:30 EST on the 7th
        call(4, window.end - timedelta(seconds=1)),
        call(5, window.end),
        call(2, window.start),  # the same id again
        {"id": 6, "created_at": "2026-03-08T12:00:00Z", "owner": None},  # no subject
    ]
    with respx.mock(base_url="https://api.calls.example") as router:
        router.get("/v1/calls").respond(json=calls_page(items, None))
        result = await calls.collect(window, {})
    assert counts_of(result.counts) == {
        ("calls_held", "alice@acme.io", date(2026, 3, 7)): 2.0,
        ("calls_held", "alice@acme.io", date(2026, 3, 8)): 1.0,
        ("calls_held", "unknown", date(2026, 3, 8)): 1.0,
    }


async def test_fixture_page_in_utc(context: ConnectorContext) -> None:
    connector = HttpJsonConnector(settings(CALLS), context)
    window = SyncWindow(
        start=datetime(2026, 3, 7, tzinfo=UTC), end=datetime(2026, 3, 9, tzinfo=UTC), timezone=ZoneInfo("UTC")
    )
    with respx.mock(base_url="https://api.calls.example") as router:
        router.get("/v1/calls").respond(json=load_fixture("http_json", "calls_page.json"))
        result = await connector.collect(window, {})
    await connector.aclose()
    assert counts_of(result.counts) == {
        ("calls_held", "alice@acme.io", date(2026, 3, 7)): 1.0,
        ("calls_held", "bob@acme.io", date(2026, 3, 7)): 1.0,
        ("calls_held", "alice@acme.io", date(2026, 3, 8)): 1.0,
    }


async def test_next_link_relative_and_absolute(context: ConnectorContext) -> None:
    config = settings(CALLS, pagination="next_link", next_link_path="links.next", cursor_path=None, cursor_param=None)
    connector = HttpJsonConnector(config, context)
    at = datetime(2026, 3, 7, 15, tzinfo=UTC)
    with respx.mock(base_url="https://api.calls.example") as router:
        router.get("/v1/calls", params={"page": "3"}).respond(json={"data": [call(3, at)], "links": {"next": None}})
        router.get("/v1/calls", params={"page": "2"}).respond(
            json={"data": [call(2, at)], "links": {"next": "https://api.calls.example/v1/calls?page=3"}}
        )
        first = router.get("/v1/calls").respond(json={"data": [call(1, at)], "links": {"next": "/v1/calls?page=2"}})
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    await connector.aclose()
    assert first.call_count == 1
    assert counts_of(result.counts) == {("calls_held", "alice@acme.io", date(2026, 3, 7)): 3.0}


async def test_a_next_link_to_another_host_is_refused(context: ConnectorContext) -> None:
    config = settings(CALLS, pagination="next_link", next_link_path="next", cursor_path=None, cursor_param=None)
    connector = HttpJsonConnector(config, context)
    with respx.mock(base_url="https://api.calls.example") as router:
        router.get("/v1/calls").respond(json={"data": [], "next": "https://evil.example/steal"})
        with pytest.raises(SourceResponseError, match="another host"):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    await connector.aclose()


async def test_offset_pages_until_a_short_page(context: ConnectorContext) -> None:
    config = settings(
        CALLS,
        url="https://api.calls.example/v1/calls?since={start:epoch_ms}",
        items_path="$.results[*]",
        date_field="ts",
        date_format="epoch_ms",
        pagination="offset",
        offset_param="skip",
        limit_param="take",
        page_size=2,
        cursor_path=None,
        cursor_param=None,
        subject_path=None,
        id_path=None,
    )
    connector = HttpJsonConnector(config, context)
    ms = int(datetime(2026, 3, 7, 15, tzinfo=UTC).timestamp() * 1000)

    def handler(request: httpx.Request) -> httpx.Response:
        skip = int(request.url.params["skip"])
        rows = [{"ts": ms}] * (2 if skip < 4 else 1)
        return httpx.Response(200, json={"results": rows})

    with respx.mock(base_url="https://api.calls.example") as router:
        route = router.get("/v1/calls").mock(side_effect=handler)
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    await connector.aclose()
    assert [c.request.url.params["skip"] for c in route.calls] == ["0", "2", "4"]
    assert route.calls[0].request.url.params["since"] == str(
        int(datetime(2026, 3, 7, 5, tzinfo=UTC).timestamp() * 1000)
    )
    assert counts_of(result.counts) == {("calls_held", "all", date(2026, 3, 7)): 5.0}


async def test_post_body_template_and_cursor_in_the_body(context: ConnectorContext) -> None:
    config = settings(
        CALLS,
        url="https://api.calls.example/v1/calls/search",
        method="POST",
        body={"filter": {"from": "{start:epoch}", "to": "{end:epoch}", "label": "day {day}"}, "limit": 50},
        date_field="created",
        date_format="%Y-%m-%d %H:%M",
        date_timezone="Europe/London",
        subject_path=None,
        id_path=None,
    )
    connector = HttpJsonConnector(config, context)
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if "cursor" in bodies[-1]:
            return httpx.Response(200, json={"data": [{"created": "2026-03-07 23:30"}], "meta": {}})
        return httpx.Response(200, json={"data": [{"created": "2026-03-07 10:00"}], "meta": {"next_cursor": "n2"}})

    with respx.mock(base_url="https://api.calls.example") as router:
        router.post("/v1/calls/search").mock(side_effect=handler)
        # London days: 23:30 GMT on the 7th is in the window [7th 00:00, 8th 00:00) Europe/London.
        window = SyncWindow(
            start=datetime(2026, 3, 7, tzinfo=ZoneInfo("Europe/London")),
            end=datetime(2026, 3, 8, tzinfo=ZoneInfo("Europe/London")),
            timezone=ZoneInfo("Europe/London"),
        )
        result = await connector.collect(window, {})
    await connector.aclose()
    start = int(datetime(2026, 3, 7, tzinfo=UTC).timestamp())
    assert bodies[0] == {"filter": {"from": start, "to": start + 86_400, "label": "day 2026-03-07"}, "limit": 50}
    assert bodies[1]["cursor"] == "n2"
    assert counts_of(result.counts) == {("calls_held", "all", date(2026, 3, 7)): 2.0}


async def test_base_url_replaces_the_origin(clock: FakeClock, observer: RecordingObserver) -> None:
    context = ConnectorContext(source="calls", timezone=NEW_YORK, clock=clock, observer=observer)
    connector = HttpJsonConnector(settings(CALLS, base_url="http://127.0.0.1:9999/proxy"), context)
    with respx.mock(base_url="http://127.0.0.1:9999") as router:
        route = router.get("/proxy/v1/calls").respond(json=calls_page([], None))
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    await connector.aclose()
    assert route.call_count == 1
    assert result.counts == []


# --- ready counts ------------------------------------------------------------------------------


async def test_counts_one_local_day_per_request(context: ConnectorContext) -> None:
    connector = HttpJsonConnector(settings(COUNT), context)
    answers = {"2026-03-07": 4, "2026-03-08": 0, "2026-03-09": 7}

    def handler(request: httpx.Request) -> httpx.Response:
        day = datetime.fromtimestamp(int(request.url.params["from"]), NEW_YORK).date().isoformat()
        return httpx.Response(200, json={"count": answers[day]})

    window = SyncWindow(
        start=datetime(2026, 3, 7, tzinfo=NEW_YORK),
        end=datetime(2026, 3, 9, 13, 30, 0, 500, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )
    with respx.mock(base_url="https://api.calls.example") as router:
        route = router.get("/v1/calls/count").mock(side_effect=handler)
        result = await connector.collect(window, {})
    await connector.aclose()
    bounds = [(c.request.url.params["from"], c.request.url.params["to"]) for c in route.calls]
    # The 8th is 23 hours long (clocks go forward); the last day ends at the window's end, rounded up.
    assert bounds == [
        ("1772859600", "1772946000"),
        ("1772946000", "1773028800"),
        ("1773028800", "1773077401"),
    ]
    assert route.calls[0].request.headers["X-Api-Key"] == KEY
    assert counts_of(result.counts) == {
        ("calls_held", "all", date(2026, 3, 7)): 4.0,
        ("calls_held", "all", date(2026, 3, 8)): 0.0,
        ("calls_held", "all", date(2026, 3, 9)): 7.0,
    }


async def test_counts_per_subject_from_items(context: ConnectorContext) -> None:
    config = settings(COUNT, items_path="$.rows[*]", count_path="calls", subject_path="user")
    connector = HttpJsonConnector(config, context)
    with respx.mock(base_url="https://api.calls.example") as router:
        router.get("/v1/calls/count").respond(json={"rows": [{"user": "U1", "calls": "3"}, {"user": "U2", "calls": 2}]})
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    await connector.aclose()
    assert counts_of(result.counts) == {
        ("calls_held", "U1", date(2026, 3, 7)): 3.0,
        ("calls_held", "U2", date(2026, 3, 7)): 2.0,
    }


@pytest.mark.parametrize("body", [{"total": 3}, {"count": "many"}, {"count": True}])
async def test_a_missing_or_bad_count_is_a_response_error(context: ConnectorContext, body: object) -> None:
    connector = HttpJsonConnector(settings(COUNT), context)
    with respx.mock(base_url="https://api.calls.example") as router:
        router.get("/v1/calls/count").respond(json=body)
        with pytest.raises(SourceResponseError, match="count"):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    await connector.aclose()


# --- limits and errors -------------------------------------------------------------------------


async def test_empty_api(calls: HttpJsonConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url="https://api.calls.example") as router:
        router.get("/v1/calls").respond(json=calls_page([], None))
        result = await calls.collect(ny_window(date(2026, 3, 1), date(2026, 3, 8)), {})
    assert result.counts == []
    assert observer.codes == ["200"]


async def test_429_then_success(calls: HttpJsonConnector, clock: FakeClock) -> None:
    with respx.mock(base_url="https://api.calls.example") as router:
        router.get("/v1/calls").mock(
            side_effect=[
                httpx.Response(429, json={"error": "rate_limited"}, headers={"Retry-After": "3"}),
                httpx.Response(200, json=calls_page([call(1, datetime(2026, 3, 7, 15, tzinfo=UTC))], None)),
            ]
        )
        result = await calls.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert clock.sleeps == [3.0]
    assert counts_of(result.counts) == {("calls_held", "alice@acme.io", date(2026, 3, 7)): 1.0}


async def test_configured_rate_limit_paces_requests(context: ConnectorContext, clock: FakeClock) -> None:
    connector = HttpJsonConnector(settings(COUNT, rate_limit={"requests": 2, "per_seconds": 1}), context)
    with respx.mock(base_url="https://api.calls.example") as router:
        route = router.get("/v1/calls/count").respond(json={"count": 1})
        await connector.collect(ny_window(date(2026, 3, 1), date(2026, 3, 6)), {})
    await connector.aclose()
    assert route.call_count == 5
    assert clock.sleeps == [1.0, 1.0]


async def test_bad_key_is_an_auth_error_after_one_request(calls: HttpJsonConnector) -> None:
    with respx.mock(base_url="https://api.calls.example") as router:
        route = router.get("/v1/calls").respond(401, json={"error": "invalid_token"})
        with pytest.raises(SourceAuthError, match="HTTP 401") as caught:
            await calls.check()
    assert route.call_count == 1
    assert KEY not in str(caught.value)


async def test_the_apis_error_body_reaches_the_message(calls: HttpJsonConnector) -> None:
    with respx.mock(base_url="https://api.calls.example") as router:
        router.get("/v1/calls").respond(400, json={"error": "limit must be between 1 and 100"})
        with pytest.raises(SourceRequestError, match="limit must be between 1 and 100"):
            await calls.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"not": "a list"}},
        {"data": [{"id": 1, "owner": {"email": "a"}}]},  # no date
        {"data": [{"id": 1, "created_at": "2026-03-07T10:00:00"}]},  # no zone
    ],
)
async def test_unreadable_items_are_response_errors(calls: HttpJsonConnector, body: object) -> None:
    with respx.mock(base_url="https://api.calls.example") as router:
        router.get("/v1/calls").respond(json=body)
        with pytest.raises(SourceResponseError):
            await calls.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})


@pytest.mark.parametrize("block", range(DOC_BLOCKS))
def test_the_docs_configuration_loads(block: int) -> None:
    text = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)[block]
    config = parse_config(text, environ=DOC_ENV)
    assert config.sources


async def test_a_level_is_read_once_and_stored_for_the_windows_last_day(context: ConnectorContext) -> None:
    level = {
        "connector": "http_json",
        "api_key": KEY,
        "url": "https://api.social.example/v1/accounts",
        "metric": "followers",
        "items_path": "accounts",
        "subject_path": "handle",
        "level_path": "followers",
    }
    connector = HttpJsonConnector(settings(level), context)
    window = SyncWindow(
        start=datetime(2026, 11, 18, tzinfo=UTC), end=datetime(2026, 11, 21, 15, 0, tzinfo=UTC), timezone=UTC
    )
    answer = {"accounts": [{"handle": "acme", "followers": 1520}, {"handle": "acme_jobs", "followers": "310"}]}
    try:
        with respx.mock() as router:
            route = router.get("https://api.social.example/v1/accounts").respond(json=answer)
            result = await connector.collect(window, {})
    finally:
        await connector.aclose()
    assert route.call_count == 1
    assert [(c.subject, c.day, c.value) for c in result.counts] == [
        ("acme", date(2026, 11, 21), 1520.0),
        ("acme_jobs", date(2026, 11, 21), 310.0),
    ]
    # Earlier days of the window keep what earlier syncs stored: only today is replaced.
    assert result.complete_from == date(2026, 11, 21)
