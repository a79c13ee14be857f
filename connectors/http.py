"""The shared HTTP layer every connector uses: one client per source, retries, limits, redaction.

    SourceHttpClient.get_json / post_json
      -> wait for the vendor's quota (remaining 0 until a known reset) and the proactive limit
      -> one httpx request, its status counted by the observer
      -> 2xx: decode JSON; 401/403: SourceAuthError at once; 408/5xx/transport: retry with
         exponential backoff, then SourceUnavailable; 429: wait Retry-After (or the reset header)
         when it is within the cap and retry, else SourceRateLimited; other 4xx: SourceRequestError

Secrets never leave this layer: credentials travel in headers, error messages carry the method
and path but never the query string, and a log filter masks every registered secret.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from connectors.pagination import Page, paginate_cursor, paginate_offset
from connectors.ratelimit import (
    RateLimit,
    SlidingWindowLimiter,
    parse_reset,
    parse_retry_after,
)
from connectors.redaction import (
    RedactingFilter,
    forget_secrets,
    install_log_redaction,
    redact,
    register_secrets,
)
from syncd.errors import (
    SourceAuthError,
    SourceError,
    SourceRateLimited,
    SourceRequestError,
    SourceResponseError,
    SourceUnavailable,
)

if TYPE_CHECKING:
    # connectors.base imports this module for HttpObserver; importing it back at runtime would cycle.
    from connectors.base import ConnectorContext, ConnectorSettings

__all__ = [
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

logger = logging.getLogger(__name__)

T = TypeVar("T")
ParamValue = str | int | float | bool | None
QueryParams = Mapping[str, ParamValue | Sequence[str | int | float]]

_DETAIL_LENGTH = 200


class HttpObserver(Protocol):
    """Receives what the HTTP layer sees, for syncd_source_http_requests_total and friends."""

    def on_response(self, code: str) -> None:
        """Count one finished request by status code ("200", "429") or "error" when none came back."""
        ...

    def on_rate_limit_remaining(self, remaining: float) -> None:
        """Record the vendor's remaining quota, where it reports one."""
        ...

    def on_wait(self, seconds: float, reason: str) -> None:
        """Hear that the client is about to wait `seconds` before its next request, and why.

        `reason` is short and for people ("rate limit", "rate limit (HTTP 429)", "retry after HTTP
        503"); it never holds a URL or a secret. A backfill shows it, so a row is not frozen in silence.
        """
        ...


class NullObserver:
    """An observer that records nothing."""

    def on_response(self, code: str) -> None:
        return None

    def on_rate_limit_remaining(self, remaining: float) -> None:
        return None

    def on_wait(self, seconds: float, reason: str) -> None:
        return None


@dataclass(frozen=True)
class HttpPolicy:
    """How one source's requests time out, retry and pace themselves.

    The defaults follow what exporters and ELT tools settled on: 5 attempts, backoff from 1 s
    to 60 s with jitter, and a 120 s cap on a vendor-requested wait (an uncapped one once hung a
    sync for 22 minutes). The overall deadline of a sync belongs to the caller.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_attempts: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    # Seconds of random extra wait per retry, so sources restarted together do not retry in step.
    backoff_jitter: float = 1.0
    retry_after_cap: float = 120.0
    rate_limit: RateLimit | None = None
    # Header names are case-insensitive; these cover lemlist/Smartlead and X styles.
    remaining_headers: tuple[str, ...] = ("x-ratelimit-remaining", "x-rate-limit-remaining")
    reset_headers: tuple[str, ...] = ("x-ratelimit-reset", "x-rate-limit-reset")
    # The vendor's own reading of a response, before status codes are: Slack's HTTP 200 with
    # `ok: false`, Google's rate limits sent as 403. Return the error it means, or None to go on.
    # A SourceUnavailable it returns is retried; a SourceRateLimited with status 429 is waited out.
    classify: Callable[[httpx.Response], SourceError | None] | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


def bearer_client(
    context: ConnectorContext,
    settings: ConnectorSettings,
    *,
    default_base_url: str,
    policy: HttpPolicy,
    headers: Mapping[str, str] | None = None,
) -> SourceHttpClient:
    """Return a source's client that sends its `api_key` as `Authorization: Bearer <key>`.

    Most vendors take their key or OAuth token this way; `base_url` from the settings wins over
    the vendor's root, and the key is registered for masking.
    """
    if settings.api_key is None:
        raise ValueError(f"{context.source}: the connector needs an api_key")
    token = settings.api_key.get_secret_value()
    return SourceHttpClient(
        context=context,
        base_url=settings.base_url or default_base_url,
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        policy=policy,
        secrets=(token,),
    )


def basic_auth_value(username: str, password: str) -> str:
    """Return an `Authorization` header value for HTTP Basic auth."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def parse_payload(adapter: TypeAdapter[T], payload: object, *, source: str, what: str) -> T:
    """Validate a decoded JSON payload, raising SourceResponseError (without the data) if it does not fit."""
    try:
        return adapter.validate_python(payload)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise SourceResponseError(
            f"{source} answered {what} with an unexpected shape: {where}: {first['msg']}",
            source=source,
        ) from None


class SourceHttpClient:
    """The one HTTP client of one source, kept for the source's life."""

    def __init__(
        self,
        *,
        context: ConnectorContext,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        policy: HttpPolicy | None = None,
        secrets: Sequence[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._source = context.source
        self._clock = context.clock
        self._observer = context.observer
        self._policy = policy or HttpPolicy()
        self._base_url = base_url
        self._secrets = tuple(s for s in secrets if s)
        install_log_redaction()
        register_secrets(self._secrets)
        self._closed = False
        self._limiter = (
            SlidingWindowLimiter(
                self._policy.rate_limit, self._clock, on_wait=lambda delay: self._observer.on_wait(delay, "rate limit")
            )
            if self._policy.rate_limit
            else None
        )
        # Monotonic instant before which the vendor said no quota is left (remaining hit 0).
        self._quota_resumes_at: float | None = None
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            timeout=httpx.Timeout(self._policy.read_timeout, connect=self._policy.connect_timeout),
            verify=context.ssl_context if context.ssl_context is not None else True,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"SourceHttpClient(source={self._source!r}, base_url={redact(self._base_url)!r})"

    async def __aenter__(self) -> SourceHttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def get_json(
        self, path: str, *, params: QueryParams | None = None, headers: Mapping[str, str] | None = None
    ) -> object:
        """GET `path` (appended to the base URL) and return its decoded JSON body."""
        return await self._request_json("GET", path, params=params, json=None, headers=headers)

    async def post_json(
        self,
        path: str,
        *,
        json: object = None,
        params: QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> object:
        """POST `json` to `path` (appended to the base URL) and return the decoded JSON body."""
        return await self._request_json("POST", path, params=params, json=json, headers=headers)

    async def aclose(self) -> None:
        """Close the connection pool and forget this client's secrets."""
        if self._closed:
            return
        self._closed = True
        await self._client.aclose()
        forget_secrets(self._secrets)

    async def _request_json(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None,
        json: object,
        headers: Mapping[str, str] | None,
    ) -> object:
        # Relative, so httpx keeps the base URL's own path (`.../api` + `activities`).
        relative = path.lstrip("/")
        where = f"{method} /{redact(relative.split('?', 1)[0], self._secrets)}"
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            sleep=self._clock.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            response: httpx.Response = await retrying(self._send_once, method, relative, where, params, json, headers)
        except SourceUnavailable as exc:
            raise SourceUnavailable(
                f"{exc} (gave up after {self._policy.max_attempts} attempts)",
                source=self._source,
                status_code=exc.status_code,
            ) from None
        except SourceRateLimited as exc:
            if not self._should_retry(exc):
                raise
            raise SourceRateLimited(
                f"{exc} (gave up after {self._policy.max_attempts} attempts)",
                source=self._source,
                retry_after=exc.retry_after,
            ) from None
        return self._decode(response, where)

    async def _send_once(
        self,
        method: str,
        path: str,
        where: str,
        params: QueryParams | None,
        json: object,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        await self._wait_for_quota(where)
        if self._limiter is not None:
            await self._limiter.acquire()
        try:
            response = await self._client.request(
                method, path, params=params, json=json, headers=dict(headers) if headers else None
            )
        except httpx.TransportError as exc:
            self._observer.on_response("error")
            # The class name only: transport errors may quote the URL, and its query may hold a key.
            raise SourceUnavailable(
                f"{self._source}: {where} failed: {type(exc).__name__}", source=self._source
            ) from None
        except httpx.RequestError as exc:
            self._observer.on_response("error")
            raise SourceResponseError(
                f"{self._source}: {where} failed: {type(exc).__name__}", source=self._source
            ) from None
        self._observer.on_response(str(response.status_code))
        self._note_quota(response)
        self._raise_for_status(response, where)
        return response

    def _raise_for_status(self, response: httpx.Response, where: str) -> None:
        if self._policy.classify is not None:
            vendor_error = self._policy.classify(response)
            if vendor_error is not None:
                raise vendor_error
        code = response.status_code
        if 200 <= code < 300:
            return
        source = self._source
        if code in (401, 403):
            raise SourceAuthError(f"{source} rejected the credential (HTTP {code})", source=source, status_code=code)
        if code == 408 or code >= 500:
            raise SourceUnavailable(f"{source} answered HTTP {code} to {where}", source=source, status_code=code)
        if code == 429:
            retry_after = self._retry_after(response)
            wait = "no wait given" if retry_after is None else f"asked to wait {retry_after:g}s"
            raise SourceRateLimited(
                f"{source} is rate limiting {where} (HTTP 429, {wait}; we wait at most "
                f"{self._policy.retry_after_cap:g}s)",
                source=source,
                retry_after=retry_after,
            )
        if 400 <= code < 500:
            raise SourceRequestError(
                f"{source} refused {where} (HTTP {code}){self._detail(response)}",
                source=source,
                status_code=code,
            )
        raise SourceResponseError(f"{source} answered {where} with HTTP {code}", source=source, status_code=code)

    def _retry_after(self, response: httpx.Response) -> float | None:
        now = self._clock.now()
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        if retry_after is None:
            retry_after = parse_reset(self._first_header(response, self._policy.reset_headers), now)
        return retry_after

    def _note_quota(self, response: httpx.Response) -> None:
        """Report the remaining quota, and remember to pause until the reset when none is left."""
        raw = self._first_header(response, self._policy.remaining_headers)
        if raw is None:
            return
        try:
            remaining = float(raw)
        except ValueError:
            return
        self._observer.on_rate_limit_remaining(remaining)
        if remaining > 0:
            self._quota_resumes_at = None
            return
        reset = parse_reset(self._first_header(response, self._policy.reset_headers), self._clock.now())
        if reset is not None:
            self._quota_resumes_at = self._clock.monotonic() + reset

    async def _wait_for_quota(self, where: str) -> None:
        if self._quota_resumes_at is None:
            return
        delay = self._quota_resumes_at - self._clock.monotonic()
        if delay > self._policy.retry_after_cap:
            # Waiting is pointless and sending would only earn a 429: give up this run now.
            raise SourceRateLimited(
                f"{self._source} has no quota left for {where} for {delay:.0f}s "
                f"(we wait at most {self._policy.retry_after_cap:g}s)",
                source=self._source,
                status_code=None,
                retry_after=delay,
            )
        if delay > 0:
            self._observer.on_wait(delay, "rate limit (quota used up)")
            await self._clock.sleep(delay)
        self._quota_resumes_at = None

    def _should_retry(self, exc: BaseException) -> bool:
        if isinstance(exc, SourceUnavailable):
            return True
        if isinstance(exc, SourceRateLimited) and exc.status_code == 429:
            return exc.retry_after is None or exc.retry_after <= self._policy.retry_after_cap
        return False

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, SourceRateLimited) and exc.retry_after is not None:
            return exc.retry_after
        backoff = wait_exponential_jitter(
            initial=self._policy.backoff_initial,
            max=self._policy.backoff_max,
            jitter=self._policy.backoff_jitter,
        )
        return backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        self._observer.on_wait(delay, _wait_reason(exc))
        logger.info(
            "%s; retrying in %.1fs (attempt %d of %d)",
            exc,
            delay,
            state.attempt_number + 1,
            self._policy.max_attempts,
        )

    def _decode(self, response: httpx.Response, where: str) -> object:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise SourceResponseError(
                f"{self._source} answered {where} with a body that is not JSON (HTTP {response.status_code})",
                source=self._source,
                status_code=response.status_code,
            ) from None

    def _detail(self, response: httpx.Response) -> str:
        """A short, redacted piece of the vendor's error body: it often names the bad parameter."""
        text = " ".join(response.text.split())[:_DETAIL_LENGTH]
        return f": {redact(text, self._secrets)}" if text else ""

    @staticmethod
    def _first_header(response: httpx.Response, names: Iterable[str]) -> str | None:
        for name in names:
            value: str | None = response.headers.get(name)
            if value is not None:
                return value
        return None


def _wait_reason(exc: BaseException | None) -> str:
    """Say for people why a retry waits: the vendor's rate limit, or the failure it backs off from."""
    if isinstance(exc, SourceRateLimited):
        return "rate limit (HTTP 429)" if exc.status_code == 429 else "rate limit"
    if isinstance(exc, SourceError) and exc.status_code is not None:
        return f"retry after HTTP {exc.status_code}"
    return "retry after a network error"
