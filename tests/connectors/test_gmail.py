"""The Gmail connector against respx: one search per local day, paging, midnights, Google's error shapes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.gmail import GmailConnector, GmailSettings
from syncd.errors import SourceAuthError, SourceRateLimited
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://gmail.googleapis.com/gmail/v1"
TOKEN = "ya29.test-access-token-0123456789"
NEW_YORK = ZoneInfo("America/New_York")
LIST = "/users/me/messages"
# Local midnights in New York around the DST jump of Sunday 8 March 2026 (the 8th lasts 23 hours).
MAR_7 = 1772859600  # 2026-03-07T00:00-05:00
MAR_8 = 1772946000  # 2026-03-08T00:00-05:00
MAR_9 = 1773028800  # 2026-03-09T00:00-04:00


def settings(**extra: object) -> GmailSettings:
    return GmailSettings.model_validate({"connector": "gmail", "api_key": TOKEN, **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[GmailConnector]:
    gmail = GmailConnector(settings(), context)
    yield gmail
    await gmail.aclose()


def ny_window(first: date, last_exclusive: date) -> SyncWindow:
    return SyncWindow(
        start=datetime(first.year, first.month, first.day, tzinfo=NEW_YORK),
        end=datetime(last_exclusive.year, last_exclusive.month, last_exclusive.day, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


def listing(*ids: str, next_token: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"resultSizeEstimate": len(ids)}
    if ids:
        body["messages"] = [{"id": i, "threadId": i} for i in ids]
    if next_token:
        body["nextPageToken"] = next_token
    return body


def bounds(request: httpx.Request) -> tuple[int, int]:
    match = re.fullmatch(r"in:sent after:(\d+) before:(\d+)", request.url.params["q"])
    assert match is not None
    return int(match.group(1)), int(match.group(2))


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = GmailConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [m.name for m in klass.metrics] == ["emails_sent"]
    assert settings().mailbox == "me"


async def test_one_search_per_local_day_with_epoch_midnights(connector: GmailConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get(LIST).respond(json=listing())
        await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 9)), {})
    assert [bounds(c.request) for c in route.calls] == [(MAR_7, MAR_8), (MAR_8, MAR_9)]
    request = route.calls.last.request
    assert request.url.params["maxResults"] == "500"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url)


async def test_pages_to_the_end_and_attributes_each_day(connector: GmailConnector) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        after, _ = bounds(request)
        token = request.url.params.get("pageToken")
        if after == MAR_7 and token is None:
            return httpx.Response(200, json=load_fixture("gmail", "messages_page1.json"))
        if after == MAR_7:
            assert token == "09876543210987654321"
            return httpx.Response(200, json=load_fixture("gmail", "messages_page2.json"))
        return httpx.Response(200, json=listing("m4", "m5"))

    with respx.mock(base_url=BASE) as router:
        route = router.get(LIST).mock(side_effect=handler)
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 9)), {})
    assert route.call_count == 3
    assert counts_of(result.counts) == {
        ("emails_sent", "me", date(2026, 3, 7)): 3.0,
        ("emails_sent", "me", date(2026, 3, 8)): 2.0,
    }


async def test_a_message_on_a_shared_midnight_counts_once_on_the_later_day(connector: GmailConnector) -> None:
    # A server whose `before:` were inclusive returns the midnight message for both days.
    def handler(request: httpx.Request) -> httpx.Response:
        after, _ = bounds(request)
        return httpx.Response(200, json=listing("a", "midnight") if after == MAR_7 else listing("midnight", "b"))

    with respx.mock(base_url=BASE) as router:
        router.get(LIST).mock(side_effect=handler)
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 9)), {})
    assert counts_of(result.counts) == {
        ("emails_sent", "me", date(2026, 3, 7)): 1.0,
        ("emails_sent", "me", date(2026, 3, 8)): 2.0,
    }


async def test_a_window_ending_mid_day_searches_up_to_its_end(connector: GmailConnector) -> None:
    window = SyncWindow(
        start=datetime(2026, 3, 7, tzinfo=NEW_YORK),
        end=datetime(2026, 3, 7, 23, 30, 0, 500_000, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )
    with respx.mock(base_url=BASE) as router:
        route = router.get(LIST).respond(json=listing("late"))
        result = await connector.collect(window, {})
    # 23:30 EST is 04:30Z on the 8th; the half second is dropped so nothing after the end is asked for.
    assert [bounds(c.request) for c in route.calls] == [(MAR_7, MAR_8 - 1800)]
    assert counts_of(result.counts) == {("emails_sent", "me", date(2026, 3, 7)): 1.0}


async def test_mailbox_is_the_path_and_the_subject(context: ConnectorContext) -> None:
    gmail = GmailConnector(settings(mailbox="bob@acme.io"), context)
    with respx.mock(base_url=BASE) as router:
        route = router.get("/users/bob@acme.io/messages").respond(json=listing("x"))
        result = await gmail.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    await gmail.aclose()
    assert route.call_count == 1
    assert counts_of(result.counts) == {("emails_sent", "bob@acme.io", date(2026, 3, 7)): 1.0}


async def test_empty_mailbox_answer_without_messages(connector: GmailConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get(LIST).respond(json=load_fixture("gmail", "messages_empty.json"))
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 9)), {})
    assert result.counts == []
    assert observer.codes == ["200", "200"]


async def test_rate_limit_403_is_retried_not_taken_for_auth(
    connector: GmailConnector, clock: FakeClock, observer: RecordingObserver
) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get(LIST).mock(
            side_effect=[
                httpx.Response(403, json=load_fixture("gmail", "error_rate_limit.json")),
                httpx.Response(200, json=listing("a", "b")),
            ]
        )
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert observer.codes == ["403", "200"]  # counted as the vendor sent it
    assert len(clock.sleeps) == 1
    assert 1.0 <= clock.sleeps[0] <= 2.0
    assert counts_of(result.counts) == {("emails_sent", "me", date(2026, 3, 7)): 2.0}


async def test_429_with_retry_after_then_success(connector: GmailConnector, clock: FakeClock) -> None:
    body = {"error": {"code": 429, "message": "Too many", "errors": [{"reason": "rateLimitExceeded"}]}}
    with respx.mock(base_url=BASE) as router:
        router.get(LIST).mock(
            side_effect=[
                httpx.Response(429, json=body, headers={"Retry-After": "7"}),
                httpx.Response(200, json=listing("a")),
            ]
        )
        result = await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert clock.sleeps == [7.0]
    assert counts_of(result.counts) == {("emails_sent", "me", date(2026, 3, 7)): 1.0}


async def test_a_rate_limit_that_never_lifts_gives_up(connector: GmailConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get(LIST).respond(403, json=load_fixture("gmail", "error_rate_limit.json"))
        with pytest.raises(SourceRateLimited, match="gave up after 5 attempts"):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert route.call_count == 5


async def test_bad_token_is_an_auth_error_after_one_request(connector: GmailConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/users/me/profile").respond(401, json=load_fixture("gmail", "error_auth.json"))
        with pytest.raises(SourceAuthError, match=r"HTTP 401") as caught:
            await connector.check()
    assert route.call_count == 1
    assert TOKEN not in repr(caught.value)


async def test_a_scope_403_stays_an_auth_error(connector: GmailConnector) -> None:
    body = {
        "error": {
            "code": 403,
            "message": "Metadata scope does not support 'q' parameter",
            "errors": [{"domain": "global", "reason": "forbidden"}],
            "status": "PERMISSION_DENIED",
        }
    }
    with respx.mock(base_url=BASE) as router:
        route = router.get(LIST).respond(403, json=body)
        with pytest.raises(SourceAuthError, match=r"HTTP 403"):
            await connector.collect(ny_window(date(2026, 3, 7), date(2026, 3, 8)), {})
    assert route.call_count == 1


async def test_check_reads_the_profile(connector: GmailConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/users/me/profile").respond(json=load_fixture("gmail", "profile.json"))
        await connector.check()
    assert route.call_count == 1


async def test_paces_at_40_requests_a_second(connector: GmailConnector, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/users/me/profile").respond(json=load_fixture("gmail", "profile.json"))
        for _ in range(41):
            await connector.check()
    assert clock.sleeps == [1.0]
