"""The Mailshake connector against respx: nextToken paging, window, senders, error codes, pacing."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import respx

from connectors.base import Connector, ConnectorContext, DailyCount, SyncWindow
from connectors.mailshake import MailshakeConnector, MailshakeSettings
from syncd.errors import SourceAuthError, SourceRateLimited, SourceRequestError, SourceResponseError
from tests.connectors.conftest import FakeClock, RecordingObserver, load_fixture

BASE = "https://api.mailshake.com/2017-04-01"
KEY = "mailshake-test-key-0123456789"
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
EMPTY = {"nextToken": "", "results": []}


def settings(**extra: object) -> MailshakeSettings:
    return MailshakeSettings.model_validate({"connector": "mailshake", "api_key": KEY, **extra})


@pytest.fixture
async def connector(context: ConnectorContext) -> AsyncIterator[MailshakeConnector]:
    mailshake = MailshakeConnector(settings(), context)
    yield mailshake
    await mailshake.aclose()


def stamp(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


def sent(n: int, at: datetime, sender: str = "alice@acme.io") -> dict[str, object]:
    return {"object": "sent-message", "id": n, "actionDate": stamp(at), "from": {"address": sender}, "to": []}


def reply(n: int, at: datetime, sender: str | None = "alice@acme.io", kind: str = "reply") -> dict[str, object]:
    record: dict[str, object] = {"object": "reply", "id": n, "actionDate": stamp(at), "type": kind}
    record["from"] = {"address": "lead@prospect.example"}
    record["to"] = [{"address": sender}] if sender else []
    return record


def feed(pages: list[list[dict[str, object]]]) -> Callable[[httpx.Request], httpx.Response]:
    """Serve `pages` in turn, with tokens `t1`, `t2`, ... and an empty token on the last page."""

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("nextToken")
        index = int(token[1:]) if token else 0
        next_token = f"t{index + 1}" if index + 1 < len(pages) else ""
        return httpx.Response(200, json={"nextToken": next_token, "results": pages[index]})

    return handler


def counts_of(result_counts: list[DailyCount]) -> dict[tuple[str, str, date], float]:
    return {(c.metric, c.subject, c.day): c.value for c in result_counts}


def utc_window(start: datetime, end: datetime) -> SyncWindow:
    return SyncWindow(start=start, end=end, timezone=UTC_ZONE)


DAY = utc_window(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC))


async def test_satisfies_the_connector_contract(context: ConnectorContext) -> None:
    klass: type[Connector] = MailshakeConnector
    instance = klass(settings(), context)
    assert isinstance(instance, Connector)
    await instance.aclose()
    assert [(m.name, m.subject) for m in klass.metrics] == [
        ("emails_sent", "sender email"),
        ("replies", "sender email"),
    ]
    assert klass.type_name == "mailshake"


def test_settings_need_a_key() -> None:
    with pytest.raises(pydantic.ValidationError, match="api_key"):
        MailshakeSettings.model_validate({"connector": "mailshake"})
    assert KEY not in repr(settings())


async def test_pages_until_the_empty_next_token(connector: MailshakeConnector, clock: FakeClock) -> None:
    # 237 sends inside one day, newest first: pages of 100, 100, 37; alice even, bob odd.
    noon = datetime(2026, 3, 7, 12, tzinfo=UTC)
    records = [
        sent(i, noon - timedelta(seconds=i), "alice@acme.io" if i % 2 == 0 else "bob@acme.io") for i in range(237)
    ]
    with respx.mock(base_url=BASE) as router:
        sent_route = router.get("/activity/sent").mock(
            side_effect=feed([records[:100], records[100:200], records[200:]])
        )
        replies_route = router.get("/activity/replies").respond(json=EMPTY)
        result = await connector.collect(DAY, {})
    assert [c.request.url.params.get("nextToken") for c in sent_route.calls] == [None, "t1", "t2"]
    assert all(c.request.url.params["perPage"] == "100" for c in sent_route.calls)
    assert replies_route.calls[0].request.url.params["replyType"] == "reply"
    assert counts_of(result.counts) == {
        ("emails_sent", "alice@acme.io", date(2026, 3, 7)): 119.0,
        ("emails_sent", "bob@acme.io", date(2026, 3, 7)): 118.0,
    }
    # Four requests at one per 3 s: three waits.
    assert clock.sleeps == [3.0, 3.0, 3.0]


async def test_stops_once_a_newest_first_page_reaches_before_the_window(connector: MailshakeConnector) -> None:
    start = DAY.start
    pages = [
        [sent(3, start + timedelta(hours=2)), sent(2, start), sent(1, start - timedelta(milliseconds=1))],
        [sent(0, start - timedelta(days=1))],
    ]
    with respx.mock(base_url=BASE) as router:
        route = router.get("/activity/sent").mock(side_effect=feed(pages))
        router.get("/activity/replies").respond(json=EMPTY)
        result = await connector.collect(DAY, {})
    assert route.call_count == 1
    assert counts_of(result.counts) == {("emails_sent", "alice@acme.io", date(2026, 3, 7)): 2.0}


async def test_an_oldest_first_feed_is_read_to_its_end(connector: MailshakeConnector) -> None:
    start = DAY.start
    pages = [
        [sent(1, start - timedelta(days=2)), sent(2, start - timedelta(days=1))],
        [sent(3, start + timedelta(hours=1)), sent(4, start + timedelta(hours=2))],
    ]
    with respx.mock(base_url=BASE) as router:
        route = router.get("/activity/sent").mock(side_effect=feed(pages))
        router.get("/activity/replies").respond(json=EMPTY)
        result = await connector.collect(DAY, {})
    assert route.call_count == 2
    assert counts_of(result.counts) == {("emails_sent", "alice@acme.io", date(2026, 3, 7)): 2.0}


async def test_window_edges_are_half_open(connector: MailshakeConnector) -> None:
    start, end = DAY.start, DAY.end
    records = [
        sent(5, end),  # not counted
        sent(4, end - timedelta(milliseconds=1)),
        sent(3, start + timedelta(hours=12)),
        sent(2, start),  # counted once
        sent(1, start - timedelta(milliseconds=1)),  # not counted
    ]
    with respx.mock(base_url=BASE) as router:
        router.get("/activity/sent").respond(json={"nextToken": "", "results": records})
        router.get("/activity/replies").respond(json=EMPTY)
        result = await connector.collect(DAY, {})
    assert counts_of(result.counts) == {("emails_sent", "alice@acme.io", date(2026, 3, 7)): 3.0}


async def test_days_are_local_days(connector: MailshakeConnector) -> None:
    window = SyncWindow(datetime(2026, 3, 7, tzinfo=NEW_YORK), datetime(2026, 3, 9, tzinfo=NEW_YORK), NEW_YORK)
    records = [
        sent(3, datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),  # 03:30 EDT on the 8th
        sent(2, datetime(2026, 3, 8, 4, 30, tzinfo=UTC)),  # 23:30 EST on the 7th
        sent(1, datetime(2026, 3, 7, 5, 0, tzinfo=UTC)),  # 00:00 EST, the window's start
    ]
    with respx.mock(base_url=BASE) as router:
        router.get("/activity/sent").respond(json={"nextToken": "", "results": records})
        router.get("/activity/replies").respond(
            json={"nextToken": "", "results": [reply(9, datetime(2026, 3, 9, 3, 59, tzinfo=UTC))]}
        )
        result = await connector.collect(window, {})
    assert counts_of(result.counts) == {
        ("emails_sent", "alice@acme.io", date(2026, 3, 7)): 2.0,
        ("emails_sent", "alice@acme.io", date(2026, 3, 8)): 1.0,
        ("replies", "alice@acme.io", date(2026, 3, 8)): 1.0,  # 23:59 EDT
    }


async def test_fixture_shapes_and_who_a_reply_belongs_to(connector: MailshakeConnector) -> None:
    replies = load_fixture("mailshake", "activity_replies.json")
    assert isinstance(replies, dict)
    extra = [
        # No `to`: the sender of the sent message it answers (bob's 90412).
        {**reply(7299, datetime(2026, 3, 7, 15, 0, tzinfo=UTC), None), "parent": {"id": 90412}},
        # Neither: unknown.
        reply(7298, datetime(2026, 3, 7, 14, 0, tzinfo=UTC), None),
    ]
    with respx.mock(base_url=BASE) as router:
        router.get("/activity/sent").respond(json=load_fixture("mailshake", "activity_sent.json"))
        router.get("/activity/replies").respond(json={"nextToken": "", "results": [*replies["results"], *extra]})
        result = await connector.collect(DAY, {})
    assert counts_of(result.counts) == {
        ("emails_sent", "alice@acme.io", date(2026, 3, 7)): 1.0,
        ("emails_sent", "bob@acme.io", date(2026, 3, 7)): 1.0,  # "Bob@Acme.io" normalised
        ("replies", "alice@acme.io", date(2026, 3, 7)): 1.0,  # the out-of-office is not a reply
        ("replies", "bob@acme.io", date(2026, 3, 7)): 1.0,
        ("replies", "unknown", date(2026, 3, 7)): 1.0,
    }


async def test_request_shape_and_auth(connector: MailshakeConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/me").respond(json=load_fixture("mailshake", "me.json"))
        await connector.check()
    request = route.calls[0].request
    assert request.url.path == "/2017-04-01/me"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert KEY not in str(request.url)


async def test_empty_account_gives_no_counts(connector: MailshakeConnector, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/activity/sent").respond(json=EMPTY)
        router.get("/activity/replies").respond(json=EMPTY)
        result = await connector.collect(DAY, {})
    assert result.counts == []
    assert observer.codes == ["200", "200"]


@pytest.mark.parametrize("status", [429, 400])
async def test_limit_reached_then_success(connector: MailshakeConnector, clock: FakeClock, status: int) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/activity/sent").mock(
            side_effect=[
                httpx.Response(status, json=load_fixture("mailshake", "error_limit_reached.json")),
                httpx.Response(200, json={"nextToken": "", "results": [sent(1, DAY.start)]}),
            ]
        )
        router.get("/activity/replies").respond(json=EMPTY)
        result = await connector.collect(DAY, {})
    assert counts_of(result.counts) == {("emails_sent", "alice@acme.io", date(2026, 3, 7)): 1.0}
    assert 1.0 <= clock.sleeps[0] <= 3.0  # backoff (or the 3 s pace, whichever is longer)


async def test_limit_reached_every_time_is_rate_limited(connector: MailshakeConnector) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/me").respond(400, json=load_fixture("mailshake", "error_limit_reached.json"))
        with pytest.raises(SourceRateLimited):
            await connector.check()
    assert route.call_count == 5


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, "invalid_api_key"), (400, "invalid_api_key"), (403, "not_authorized"), (400, "team_blocked")],
)
async def test_a_bad_key_is_an_auth_error_after_one_request(
    connector: MailshakeConnector, status: int, code: str
) -> None:
    body = {"error": "Nope", "message": "Nope", "code": code}
    with respx.mock(base_url=BASE) as router:
        route = router.get("/me").respond(status, json=body)
        with pytest.raises(SourceAuthError) as caught:
            await connector.check()
    assert route.call_count == 1
    assert KEY not in str(caught.value)


async def test_invalid_parameter_is_a_request_error(connector: MailshakeConnector) -> None:
    body = {"error": "Invalid parameter", "message": "perPage is too large", "code": "invalid_parameter"}
    with respx.mock(base_url=BASE) as router:
        router.get("/activity/sent").respond(400, json=body)
        with pytest.raises(SourceRequestError, match="invalid_parameter"):
            await connector.collect(DAY, {})


async def test_a_repeated_token_is_a_response_error(connector: MailshakeConnector) -> None:
    page = {"nextToken": "same", "results": [sent(1, DAY.start), sent(2, DAY.start)]}
    with respx.mock(base_url=BASE) as router:
        router.get("/activity/sent").respond(json=page)
        with pytest.raises(SourceResponseError):
            await connector.collect(DAY, {})


async def test_a_compressed_error_body_is_still_read(connector: MailshakeConnector) -> None:
    body = gzip.compress(json.dumps(load_fixture("mailshake", "error_invalid_api_key.json")).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    with respx.mock(base_url=BASE) as router:
        route = router.get("/me").respond(400, content=body, headers=headers)
        with pytest.raises(SourceAuthError):
            await connector.check()
    assert route.call_count == 1
