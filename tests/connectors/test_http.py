"""The shared HTTP layer: retries, 429 handling, pacing, redaction and pagination, against respx."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import httpx
import pytest
import respx

import connectors.http
from connectors.base import ConnectorContext
from connectors.http import (
    HttpPolicy,
    Page,
    RateLimit,
    SourceHttpClient,
    basic_auth_value,
    paginate_cursor,
    paginate_offset,
    parse_reset,
    parse_retry_after,
    redact,
)
from syncd.errors import (
    SourceAuthError,
    SourceRateLimited,
    SourceRequestError,
    SourceResponseError,
    SourceUnavailable,
)
from tests.connectors.conftest import FakeClock, RecordingObserver

BASE = "https://api.vendor.test/api"
KEY = "sk_live_9f8e7d6c5b4a39281706"
NO_JITTER = HttpPolicy(backoff_jitter=0.0)


@pytest.fixture
async def client(context: ConnectorContext) -> AsyncIterator[SourceHttpClient]:
    http = SourceHttpClient(
        context=context, base_url=BASE, headers={"X-Api-Key": KEY}, policy=NO_JITTER, secrets=(KEY,)
    )
    yield http
    await http.aclose()


def make_client(context: ConnectorContext, policy: HttpPolicy) -> SourceHttpClient:
    return SourceHttpClient(context=context, base_url=BASE, policy=policy, secrets=(KEY,))


# --- requests and decoding -------------------------------------------------------------------


async def test_path_is_appended_to_the_base_url_path(client: SourceHttpClient) -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.get("https://api.vendor.test/api/activities").respond(json=[{"a": 1}])
        assert await client.get_json("/activities", params={"limit": 100, "type": "emailsSent"}) == [{"a": 1}]
    request = route.calls.last.request
    assert request.url.params["limit"] == "100"
    assert request.url.params["type"] == "emailsSent"
    assert request.headers["X-Api-Key"] == KEY


async def test_post_json_sends_the_body(client: SourceHttpClient) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.post("/search").respond(json={"total": 3})
        assert await client.post_json("search", json={"limit": 1}) == {"total": 3}
    assert route.calls.last.request.content == b'{"limit":1}'


async def test_malformed_json_raises_response_error_without_retry(client: SourceHttpClient, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/activities").respond(200, text="<html>maintenance</html>")
        with pytest.raises(SourceResponseError, match="not JSON") as caught:
            await client.get_json("/activities")
    assert route.call_count == 1
    assert caught.value.source == "acme"
    assert clock.sleeps == []


async def test_empty_body_decodes_to_none(client: SourceHttpClient) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/ping").respond(204)
        assert await client.get_json("/ping") is None


# --- retries ---------------------------------------------------------------------------------


async def test_5xx_twice_then_success_backs_off_exponentially(
    client: SourceHttpClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/activities").mock(
            side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json=[])]
        )
        assert await client.get_json("/activities") == []
    assert route.call_count == 3
    assert clock.sleeps == [1.0, 2.0]
    assert observer.codes == ["503", "502", "200"]


async def test_5xx_until_give_up_raises_unavailable_after_max_attempts(
    client: SourceHttpClient, clock: FakeClock
) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/activities").respond(500)
        with pytest.raises(SourceUnavailable, match="gave up after 5 attempts") as caught:
            await client.get_json("/activities")
    assert route.call_count == 5
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]
    assert caught.value.status_code == 500
    assert caught.value.source == "acme"


async def test_backoff_is_capped_at_backoff_max(context: ConnectorContext, clock: FakeClock) -> None:
    http = make_client(context, HttpPolicy(backoff_jitter=0.0, backoff_max=3.0))
    with respx.mock(base_url=BASE) as router:
        router.get("/x").respond(503)
        with pytest.raises(SourceUnavailable):
            await http.get_json("/x")
    await http.aclose()
    assert clock.sleeps == [1.0, 2.0, 3.0, 3.0]


async def test_default_backoff_adds_up_to_one_second_of_jitter(context: ConnectorContext, clock: FakeClock) -> None:
    http = make_client(context, HttpPolicy(max_attempts=3))
    with respx.mock(base_url=BASE) as router:
        router.get("/x").respond(503)
        with pytest.raises(SourceUnavailable):
            await http.get_json("/x")
    await http.aclose()
    assert len(clock.sleeps) == 2
    assert 1.0 <= clock.sleeps[0] <= 2.0
    assert 2.0 <= clock.sleeps[1] <= 3.0


async def test_408_is_retried(client: SourceHttpClient, clock: FakeClock, observer: RecordingObserver) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/x").mock(side_effect=[httpx.Response(408), httpx.Response(200, json={"ok": True})])
        assert await client.get_json("/x") == {"ok": True}
    assert clock.sleeps == [1.0]
    # The observer hears each wait before it is slept, with a reason for people.
    assert observer.waits == [(1.0, "retry after HTTP 408")]


async def test_connection_errors_and_timeouts_retry_and_count_as_error(
    client: SourceHttpClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/x").mock(
            side_effect=[
                httpx.ConnectError("refused"),
                httpx.ReadTimeout("slow"),
                httpx.Response(200, json=1),
            ]
        )
        assert await client.get_json("/x") == 1
    assert observer.codes == ["error", "error", "200"]
    assert clock.sleeps == [1.0, 2.0]
    assert observer.waits == [(1.0, "retry after a network error"), (2.0, "retry after a network error")]


async def test_transport_errors_until_give_up(client: SourceHttpClient) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/x").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(SourceUnavailable, match="ConnectError") as caught:
            await client.get_json("/x")
    assert route.call_count == 5
    assert caught.value.status_code is None


# --- status codes that are never retried -----------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure_is_not_retried(client: SourceHttpClient, clock: FakeClock, status: int) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/team").respond(status, json={"error": "invalid key"})
        with pytest.raises(SourceAuthError) as caught:
            await client.get_json("/team")
    assert route.call_count == 1
    assert clock.sleeps == []
    assert str(caught.value) == f"acme rejected the credential (HTTP {status})"
    assert caught.value.status_code == status


async def test_other_4xx_is_a_request_error_with_the_vendor_detail(client: SourceHttpClient) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/campaigns/cam_1").respond(404, json={"message": "campaign not found"})
        with pytest.raises(SourceRequestError, match="campaign not found") as caught:
            await client.get_json("/campaigns/cam_1")
    assert route.call_count == 1
    assert caught.value.status_code == 404
    assert "GET /campaigns/cam_1 (HTTP 404)" in str(caught.value)


# --- 429 -------------------------------------------------------------------------------------


async def test_429_with_retry_after_seconds_waits_exactly_that_long(
    client: SourceHttpClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/activities").mock(
            side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=[])]
        )
        assert await client.get_json("/activities") == []
    assert route.call_count == 2
    assert clock.sleeps == [7.0]
    assert observer.codes == ["429", "200"]
    assert observer.waits == [(7.0, "rate limit (HTTP 429)")]


async def test_429_with_http_date_retry_after(client: SourceHttpClient, clock: FakeClock) -> None:
    # The fake clock reads 2026-03-08 12:00:00 UTC, a Sunday.
    retry_at = "Sun, 08 Mar 2026 12:00:30 GMT"
    with respx.mock(base_url=BASE) as router:
        router.get("/x").mock(
            side_effect=[httpx.Response(429, headers={"Retry-After": retry_at}), httpx.Response(200, json=0)]
        )
        assert await client.get_json("/x") == 0
    assert clock.sleeps == [30.0]


async def test_429_with_lemlist_reset_date_and_no_retry_after(client: SourceHttpClient, clock: FakeClock) -> None:
    # 13:00:12 at GMT+0100 is 12:00:12 UTC: 12 s after the fake clock's now.
    reset = "Sun Mar 08 2026 13:00:12 GMT+0100 (Central European Standard Time)"
    with respx.mock(base_url=BASE) as router:
        router.get("/x").mock(
            side_effect=[
                httpx.Response(429, headers={"X-RateLimit-Reset": reset}),
                httpx.Response(200, json=0),
            ]
        )
        await client.get_json("/x")
    assert clock.sleeps == [12.0]


async def test_429_beyond_the_cap_gives_up_at_once(client: SourceHttpClient, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/x").respond(429, headers={"Retry-After": "300"})
        with pytest.raises(SourceRateLimited) as caught:
            await client.get_json("/x")
    assert route.call_count == 1
    assert clock.sleeps == []
    assert caught.value.retry_after == 300.0
    assert caught.value.status_code == 429
    assert caught.value.reason == "rate_limited"


async def test_429_at_the_cap_is_still_waited(client: SourceHttpClient, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/x").mock(
            side_effect=[httpx.Response(429, headers={"Retry-After": "120"}), httpx.Response(200, json=0)]
        )
        await client.get_json("/x")
    assert clock.sleeps == [120.0]


async def test_429_without_headers_backs_off_exponentially(client: SourceHttpClient, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/x").mock(side_effect=[httpx.Response(429), httpx.Response(429), httpx.Response(200, json=0)])
        await client.get_json("/x")
    assert clock.sleeps == [1.0, 2.0]


async def test_429_every_attempt_gives_up_rate_limited(client: SourceHttpClient, clock: FakeClock) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/x").respond(429, headers={"Retry-After": "2"})
        with pytest.raises(SourceRateLimited, match="gave up after 5 attempts") as caught:
            await client.get_json("/x")
    assert route.call_count == 5
    assert clock.sleeps == [2.0, 2.0, 2.0, 2.0]
    assert caught.value.retry_after == 2.0


# --- proactive pacing ------------------------------------------------------------------------


async def test_rate_limiter_makes_the_21st_request_within_2s_wait(
    context: ConnectorContext, clock: FakeClock, observer: RecordingObserver
) -> None:
    http = make_client(context, HttpPolicy(rate_limit=RateLimit(requests=20, per_seconds=2.0)))
    with respx.mock(base_url=BASE) as router:
        route = router.get("/x").respond(json=[])
        for _ in range(20):
            await http.get_json("/x")
            clock.advance(0.05)  # 20 requests spread over the first second
        assert clock.sleeps == []
        await http.get_json("/x")
    await http.aclose()
    assert route.call_count == 21
    # The first request went at t=0; the 21st may go at t=2.0, and 1.0 s had passed.
    assert clock.sleeps == [pytest.approx(1.0)]
    assert observer.waits == [(pytest.approx(1.0), "rate limit")]


async def test_rate_limiter_lets_requests_through_once_the_window_moved(
    context: ConnectorContext, clock: FakeClock
) -> None:
    http = make_client(context, HttpPolicy(rate_limit=RateLimit(requests=2, per_seconds=2.0)))
    with respx.mock(base_url=BASE) as router:
        router.get("/x").respond(json=[])
        await http.get_json("/x")
        await http.get_json("/x")
        clock.advance(2.5)
        await http.get_json("/x")
    await http.aclose()
    assert clock.sleeps == []


async def test_remaining_zero_waits_for_the_reset_before_the_next_request(
    client: SourceHttpClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    reset_epoch = int(datetime(2026, 3, 8, 12, 0, 40, tzinfo=UTC).timestamp())
    with respx.mock(base_url=BASE) as router:
        router.get("/x").mock(
            side_effect=[
                httpx.Response(
                    200,
                    json=1,
                    headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset_epoch)},
                ),
                httpx.Response(200, json=2, headers={"x-rate-limit-remaining": "899"}),
            ]
        )
        assert await client.get_json("/x") == 1
        assert clock.sleeps == []
        assert await client.get_json("/x") == 2
    assert clock.sleeps == [40.0]
    assert observer.remaining == [0.0, 899.0]
    assert observer.waits == [(40.0, "rate limit (quota used up)")]


async def test_remaining_zero_with_a_far_reset_gives_up_without_a_request(client: SourceHttpClient) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/x").respond(json=1, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "600"})
        await client.get_json("/x")
        with pytest.raises(SourceRateLimited) as caught:
            await client.get_json("/x")
    assert route.call_count == 1
    assert caught.value.retry_after == pytest.approx(600.0)


# --- redaction -------------------------------------------------------------------------------


def _assert_hidden(exc: BaseException) -> None:
    for text in (str(exc), repr(exc)):
        assert KEY not in text
        assert "?api_key" not in text  # not even the query string's shape


@pytest.mark.parametrize(
    ("responses", "error"),
    [
        ([httpx.Response(401, text=f"bad key {KEY}")], SourceAuthError),
        ([httpx.Response(503, text=KEY)] * 5, SourceUnavailable),
        ([httpx.Response(429, headers={"Retry-After": "1"}, text=KEY)] * 5, SourceRateLimited),
        ([httpx.Response(429, headers={"Retry-After": "999"})], SourceRateLimited),
        (
            [httpx.ConnectError(f"cannot reach https://api.vendor.test/api/x?api_key={KEY}")] * 5,
            SourceUnavailable,
        ),
        ([httpx.Response(400, text=f"unknown parameter api_key={KEY}")], SourceRequestError),
    ],
)
async def test_errors_never_carry_the_key(
    client: SourceHttpClient,
    caplog: pytest.LogCaptureFixture,
    responses: Sequence[httpx.Response | Exception],
    error: type[Exception],
) -> None:
    caplog.set_level(logging.DEBUG)
    with respx.mock(base_url=BASE) as router:
        router.get("/x").mock(side_effect=list(responses))
        with pytest.raises(error) as caught:
            await client.get_json("/x", params={"api_key": KEY})
    _assert_hidden(caught.value)
    assert caught.value.__cause__ is None
    assert KEY not in caplog.text


async def test_registered_secrets_are_masked_in_any_log_record(
    client: SourceHttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("syncd.somewhere").info("calling with key=%s", KEY)
    assert KEY not in caplog.text
    assert "calling with key=***" in caplog.text


async def test_secrets_are_forgotten_once_the_client_closes(context: ConnectorContext) -> None:
    other = "another-secret-value-123"
    http = SourceHttpClient(context=context, base_url=BASE, secrets=(other,))
    assert redact(f"x {other} y") == "x *** y"
    await http.aclose()
    assert redact(f"x {other} y") == f"x {other} y"


async def test_httpx_loggers_are_quieted(client: SourceHttpClient) -> None:
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING


async def test_client_repr_holds_no_secret(context: ConnectorContext) -> None:
    http = SourceHttpClient(
        context=context, base_url=BASE, headers={"Authorization": basic_auth_value("", KEY)}, secrets=(KEY,)
    )
    assert repr(http) == f"SourceHttpClient(source='acme', base_url='{BASE}')"
    await http.aclose()


def test_basic_auth_value_encodes_an_empty_user_name() -> None:
    # base64(":abc") is "OmFiYw==".
    assert basic_auth_value("", "abc") == "Basic OmFiYw=="


# --- header parsing --------------------------------------------------------------------------

NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("Sun, 08 Mar 2026 12:01:00 GMT", 60.0),
        ("Sun, 08 Mar 2026 11:59:00 GMT", 0.0),  # already past: no wait
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (str(int(NOW.timestamp()) + 900), 900.0),  # X: epoch seconds
        ("45", 45.0),  # a delay
        ("Sun Mar 08 2026 13:02:00 GMT+0100 (Central European Standard Time)", 120.0),  # lemlist
        ("Sun Mar 08 2026 08:00:05 GMT-0400 (Eastern Daylight Time)", 5.0),
        ("2026-03-08T12:00:09+00:00", 9.0),
        ("2026-03-08T12:00:09", None),  # no zone: cannot be placed in time
        ("garbage", None),
    ],
)
def test_parse_reset(value: str, seconds: float | None) -> None:
    assert parse_reset(value, NOW) == seconds


# --- pagination helpers ----------------------------------------------------------------------


def _as_ints(payload: list[int]) -> list[int]:
    return payload


async def test_offset_pagination_stops_on_a_short_page() -> None:
    items = list(range(237))
    offsets: list[int] = []

    async def fetch(offset: int, limit: int) -> list[int]:
        offsets.append(offset)
        return items[offset : offset + limit]

    got = [item async for item in paginate_offset(fetch, _as_ints, limit=100)]
    assert got == items
    assert offsets == [0, 100, 200]


async def test_offset_pagination_on_an_exact_multiple_asks_for_one_empty_page() -> None:
    offsets: list[int] = []

    async def fetch(offset: int, limit: int) -> list[int]:
        offsets.append(offset)
        return list(range(200))[offset : offset + limit]

    assert len([item async for item in paginate_offset(fetch, _as_ints, limit=100)]) == 200
    assert offsets == [0, 100, 200]


async def test_offset_pagination_stops_a_vendor_that_ignores_offsets() -> None:
    async def fetch(offset: int, limit: int) -> list[int]:
        return [0] * limit

    with pytest.raises(SourceResponseError, match="more pages after 3"):
        _ = [item async for item in paginate_offset(fetch, _as_ints, limit=10, max_pages=3, source="acme")]


async def test_cursor_pagination_follows_cursors_to_the_end() -> None:
    pages = {None: Page([1, 2], "b"), "b": Page([3], "c"), "c": Page([4, 5], None)}
    asked: list[str | None] = []

    async def fetch(cursor: str | None) -> Page[int]:
        asked.append(cursor)
        return pages[cursor]

    assert [item async for item in paginate_cursor(fetch, lambda page: page)] == [1, 2, 3, 4, 5]
    assert asked == [None, "b", "c"]


async def test_cursor_pagination_rejects_a_repeated_cursor() -> None:
    async def fetch(cursor: str | None) -> Page[int]:
        return Page([1], "same")

    with pytest.raises(SourceResponseError, match="already returned"):
        _ = [item async for item in paginate_cursor(fetch, lambda page: page, source="acme")]


def test_public_surface_is_pinned() -> None:
    assert sorted(connectors.http.__all__) == [
        "HttpObserver",
        "HttpPolicy",
        "NullObserver",
        "Page",
        "QueryParams",
        "RateLimit",
        "RedactingFilter",
        "SourceHttpClient",
        "basic_auth_value",
        "bearer_client",
        "install_log_redaction",
        "paginate_cursor",
        "paginate_offset",
        "parse_payload",
        "parse_reset",
        "parse_retry_after",
        "redact",
    ]
    for name in connectors.http.__all__:
        assert hasattr(connectors.http, name)
