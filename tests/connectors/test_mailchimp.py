"""The Mailchimp connector against respx: data centre, offset paging by total_items, days, errors."""

from __future__ import annotations

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
from connectors.mailchimp import MailchimpConnector, MailchimpSettings, data_centre
from syncd.config import parse_config
from syncd.errors import SourceAuthError, SourceRequestError, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

KEY = "0123456789abcdef0123456789abcdef-us19"
BASE = "https://us19.api.mailchimp.com/3.0"
LIST = "a1b2c3d4e5"
MEMBERS = f"/lists/{LIST}/members"
NEW_YORK = ZoneInfo("America/New_York")
DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "mailchimp.md"
DOC_BLOCKS = 1
DOC_ENV = {"MAILCHIMP_API_KEY": "0123456789abcdef0123456789abcdef-us19"}


def settings(**extra: object) -> MailchimpSettings:
    return MailchimpSettings.model_validate({"connector": "mailchimp", "api_key": KEY, "list_id": LIST, **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[MailchimpConnector]:
    mailchimp = MailchimpConnector(settings(), context)
    yield mailchimp
    await mailchimp.aclose()


def member(n: int, opted: datetime | None) -> dict[str, object]:
    stamp = "" if opted is None else opted.astimezone(UTC).isoformat(timespec="seconds")
    return {"id": f"{n:032x}", "timestamp_opt": stamp}


def page(members: list[dict[str, object]], total: int) -> dict[str, object]:
    return {"members": members, "total_items": total}


def ny_window(first: date, last_exclusive: date) -> SyncWindow:
    return SyncWindow(
        start=datetime(first.year, first.month, first.day, tzinfo=NEW_YORK),
        end=datetime(last_exclusive.year, last_exclusive.month, last_exclusive.day, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = MailchimpConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [m.name for m in klass.metrics] == ["new_subscribers"]
    assert klass.type_name == "mailchimp"


def test_the_data_centre_is_the_keys_suffix() -> None:
    assert data_centre("abc-us19") == "us19"
    assert data_centre("abc-def-us6") == "us6"
    assert data_centre("abcdef") is None
    assert data_centre("abc-") is None


def test_a_key_without_a_data_centre_needs_a_base_url() -> None:
    with pytest.raises(pydantic.ValidationError, match="data centre") as caught:
        MailchimpSettings.model_validate({"connector": "mailchimp", "api_key": "nodcsecret123", "list_id": LIST})
    assert "nodcsecret123" not in str(caught.value)
    accepted = MailchimpSettings.model_validate(
        {"connector": "mailchimp", "api_key": "nodcsecret123", "list_id": LIST, "base_url": "http://127.0.0.1:1/3.0"}
    )
    assert accepted.base_url == "http://127.0.0.1:1/3.0"


def test_settings_need_a_list_id() -> None:
    with pytest.raises(pydantic.ValidationError, match="list_id"):
        MailchimpSettings.model_validate({"connector": "mailchimp", "api_key": KEY})


async def test_request_shape(connector: MailchimpConnector) -> None:
    window = ny_window(date(2026, 3, 7), date(2026, 3, 9))
    with respx.mock(base_url=BASE) as router:
        route = router.get(MEMBERS).respond(json=page([], 0))
        await connector.collect(window, {})
    request = route.calls.last.request
    assert request.url.host == "us19.api.mailchimp.com"
    assert request.url.path == f"/3.0/lists/{LIST}/members"
    assert request.headers["Authorization"].startswith("Basic ")
    assert KEY not in str(request.url)
    # The window is 05:00Z on the 7th to 04:00Z on the 9th, widened by a second each side.
    assert dict(request.url.params) == {
        "status": "subscribed",
        "since_timestamp_opt": "2026-03-07T04:59:59+00:00",
        "before_timestamp_opt": "2026-03-09T04:00:01+00:00",
        "count": "1000",
        "offset": "0",
        "fields": "total_items,members.id,members.timestamp_opt",
    }


async def test_offset_paging_stops_at_total_items(connector: MailchimpConnector) -> None:
    at = datetime(2026, 3, 7, 15, tzinfo=UTC)  # 10:00 EST on the 7th
    pages = {
        "0": page([member(i, at) for i in range(1000)], 2003),
        "1000": page([member(i, at + timedelta(days=1)) for i in range(1000, 2000)], 2003),
        "2000": page([member(i, at + timedelta(days=1)) for i in range(2000, 2003)], 2003),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params["offset"]])

    with respx.mock(base_url=BASE) as router:
        route = router.get(MEMBERS).mock(side_effect=handler)
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 9)), {})
    assert [c.request.url.params["offset"] for c in route.calls] == ["0", "1000", "2000"]
    assert counts_of(result.counts) == {
        ("new_subscribers", LIST, date(2026, 3, 7)): 1000.0,
        ("new_subscribers", LIST, date(2026, 3, 8)): 1003.0,
    }


async def test_a_full_last_page_needs_no_extra_request(connector: MailchimpConnector) -> None:
    at = datetime(2026, 3, 7, 15, tzinfo=UTC)
    with respx.mock(base_url=BASE) as router:
        route = router.get(MEMBERS).respond(json=page([member(i, at) for i in range(1000)], 1000))
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert route.call_count == 1
    assert counts_of(result.counts) == {("new_subscribers", LIST, date(2026, 3, 7)): 1000.0}


async def test_window_edges_and_local_days(connector: MailchimpConnector) -> None:
    window = ny_window(date(2026, 3, 7), date(2026, 3, 9))
    members = [
        member(1, window.start - timedelta(seconds=1)),  # the widened filter lets it through
        member(2, window.start),
        member(3, datetime(2026, 3, 8, 4, 30, tzinfo=UTC)),  # 23:30 EST on the 7th
        member(4, datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),  # 03:30 EDT on the 8th, after the jump
        member(5, window.end - timedelta(seconds=1)),
        member(6, window.end),
        member(7, None),  # imported without an opt-in time
        member(2, window.start),  # repeated by a shifted offset
    ]
    with respx.mock(base_url=BASE) as router:
        router.get(MEMBERS).respond(json=page(members, len(members)))
        result = await connector.collect(window, {})
    assert counts_of(result.counts) == {
        ("new_subscribers", LIST, date(2026, 3, 7)): 2.0,
        ("new_subscribers", LIST, date(2026, 3, 8)): 2.0,
    }


async def test_fixture_page(connector: MailchimpConnector) -> None:
    window = SyncWindow(
        start=datetime(2026, 3, 6, tzinfo=UTC), end=datetime(2026, 3, 8, tzinfo=UTC), timezone=ZoneInfo("UTC")
    )
    with respx.mock(base_url=BASE) as router:
        router.get(MEMBERS).respond(json=load_fixture("mailchimp", "members_page.json"))
        result = await connector.collect(window, {})
    assert counts_of(result.counts) == {
        ("new_subscribers", LIST, date(2026, 3, 6)): 1.0,
        ("new_subscribers", LIST, date(2026, 3, 7)): 1.0,
    }


async def test_empty_audience(connector: MailchimpConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get(MEMBERS).respond(json=page([], 0))
        result = await connector.collect(ny_window(date(2026, 3, 1), date(2026, 3, 8)), {})
    assert result.counts == []
    assert observer.codes == ["200"]


async def test_429_without_headers_backs_off_then_succeeds(connector: MailchimpConnector, clock: FakeClock) -> None:
    problem = {"type": "x", "title": "Too Many Requests", "status": 429, "detail": "10 connections", "instance": ""}
    with respx.mock(base_url=BASE) as router:
        router.get(MEMBERS).mock(
            side_effect=[
                httpx.Response(429, json=problem, headers={"Content-Type": "application/problem+json"}),
                httpx.Response(200, json=page([member(1, datetime(2026, 3, 7, 12, tzinfo=UTC))], 1)),
            ]
        )
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    # No Retry-After: exponential backoff, 1 s plus at most 1 s of jitter.
    assert len(clock.sleeps) == 1
    assert 1.0 <= clock.sleeps[0] <= 2.0
    assert counts_of(result.counts) == {("new_subscribers", LIST, date(2026, 3, 7)): 1.0}


async def test_paces_at_most_10_requests_a_second(connector: MailchimpConnector, clock: FakeClock) -> None:
    at = datetime(2026, 3, 7, 15, tzinfo=UTC)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=page([member(i, at) for i in range(1000)], 12_000))

    with respx.mock(base_url=BASE) as router:
        route = router.get(MEMBERS).mock(side_effect=handler)
        await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert route.call_count == 12
    assert clock.sleeps == [1.0]


async def test_check_reads_the_list(connector: MailchimpConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get(f"/lists/{LIST}").respond(json=load_fixture("mailchimp", "list.json"))
        await connector.check()
    assert route.call_count == 1
    assert route.calls.last.request.url.params["fields"] == "id,name"


async def test_bad_key_is_an_auth_error_hinting_the_data_centre(connector: MailchimpConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get(f"/lists/{LIST}").respond(
            401, json=load_fixture("mailchimp", "error_401.json"), headers={"Content-Type": "application/problem+json"}
        )
        with pytest.raises(SourceAuthError, match=r"HTTP 401.*data centre \(us19\)") as caught:
            await connector.check()
    assert route.call_count == 1
    assert KEY not in str(caught.value)


async def test_unknown_list_names_the_list(connector: MailchimpConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get(f"/lists/{LIST}").respond(404, json=load_fixture("mailchimp", "error_404.json"))
        with pytest.raises(SourceRequestError, match=r"HTTP 404.*Resource Not Found.*no audience 'a1b2c3d4e5'"):
            await connector.check()


async def test_problem_json_detail_reaches_the_message(connector: MailchimpConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get(MEMBERS).respond(400, json=load_fixture("mailchimp", "error_400.json"))
        with pytest.raises(SourceRequestError, match=r"HTTP 400.*Invalid Resource") as caught:
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        '{"members": []}',  # no total_items
        '{"members": [{"id": "x", "timestamp_opt": "2026-03-07T10:00:00"}], "total_items": 1}',  # no zone
    ],
)
async def test_unreadable_answers_are_response_errors(connector: MailchimpConnector, body: str) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get(MEMBERS).respond(200, text=body)
        with pytest.raises(SourceResponseError):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})


@pytest.mark.parametrize("block", range(DOC_BLOCKS))
def test_the_docs_configuration_loads(block: int) -> None:
    text = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)[block]
    config = parse_config(text, environ=DOC_ENV)
    assert config.sources
