"""Mailshake: emails sent and replies per sender, from the activity feeds.

What this relies on (api-docs.mailshake.com, singer-io/tap-mailshake, and the reference):
- Auth is HTTP Basic with the API key as user name and an empty password (the docs also allow
  an `apiKey` parameter; a header keeps the key out of URLs and logs).
- `GET /activity/sent` and `GET /activity/replies` take `perPage` (at most 100) and `nextToken`
  and answer `{nextToken, results: [...]}`, most recent first; an EMPTY `nextToken` ends the
  feed. There is no date filter, so the window is applied here to `actionDate` (ISO 8601, UTC).
- A sent message carries `from.address`, the sender. `/activity/replies` also lists bounces,
  out-of-office and other automatic answers; `replyType=reply` keeps replies, and a record whose
  `type` is not `reply` is skipped here too.
- Errors are non-2xx with `{error, message, code}`. `invalid_api_key`, `not_authorized`,
  `user_is_disabled`, `team_blocked`, `user_not_admin`, `missing_team_admin` mean the key cannot
  be used (SourceAuthError); `limit_reached` means the plan's quota is spent (SourceRateLimited,
  after the shared layer's backoff); `internal_error` is retried like a 5xx.
- The quota depends on the plan and is not published; the Singer tap paces itself to one
  request per 3 s and so do we.

Unconfirmed, and handled defensively:
- Which field of a reply names the sender: we read the first `to` address, else the sender of
  the sent message it answers (`parent.id`) when that message was read in this sync, else
  `unknown`.
- The feed's order: we stop before the end only when a page is newest-first and its oldest item
  is before the window; a feed in another order is read to its end.
- The HTTP status of each error code: the mapping above is by `code`, whatever the status.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import ClassVar

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, TypeAdapter

from connectors.base import (
    CollectResult,
    ConnectorContext,
    ConnectorSettings,
    DailyCount,
    MetricSpec,
    SyncWindow,
    expect_settings,
    local_day,
)
from connectors.http import HttpPolicy, RateLimit, SourceHttpClient, basic_auth_value, parse_payload
from syncd.errors import (
    SourceAuthError,
    SourceError,
    SourceRateLimited,
    SourceResponseError,
    SourceUnavailable,
)

__all__ = ["MailshakeConnector", "MailshakeSettings"]

DEFAULT_BASE_URL = "https://api.mailshake.com/2017-04-01"
PAGE_SIZE = 100  # the most Mailshake serves per page
RATE_LIMIT = RateLimit(requests=1, per_seconds=3.0)  # the Singer tap's pace; the quota is unpublished
UNKNOWN_SENDER = "unknown"
MAX_PAGES = 100_000  # a guard against a feed that never ends

# Mailshake error `code` -> the HTTP status the shared layer maps to the right SourceError.
_CODE_STATUS: Mapping[str, int] = {
    "invalid_api_key": 401,
    "user_is_disabled": 401,
    "team_blocked": 401,
    "not_authorized": 403,
    "user_not_admin": 403,
    "missing_team_admin": 403,
    "limit_reached": 429,
    "internal_error": 500,
}


class MailshakeSettings(ConnectorSettings):
    """A Mailshake team: its API key."""

    api_key: SecretStr = Field(description="the Mailshake API key (secret)")


class _Address(BaseModel):
    model_config = ConfigDict(extra="ignore")

    address: str | None = None


class _Parent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int | str | None = None


class _Activity(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: int | str | None = None
    action_date: AwareDatetime = Field(alias="actionDate")
    type: str | None = None
    from_: _Address | None = Field(default=None, alias="from")
    to: list[_Address] | None = None
    parent: _Parent | None = None


class _Page(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    next_token: str | None = Field(default=None, alias="nextToken")
    results: list[_Activity]


_PAGE = TypeAdapter(_Page)


def _classifier(source: str) -> Callable[[httpx.Response], SourceError | None]:
    """Read Mailshake's error `code` (what went wrong is in the body) whatever status it comes with."""

    def classify(response: httpx.Response) -> SourceError | None:
        if response.status_code < 400:
            return None
        code = _error_code(response.content)
        status = _CODE_STATUS.get(code)
        if status is None:
            return None
        message = f"{source}: Mailshake answered with error code {code!r} (HTTP {response.status_code})"
        if status in (401, 403):
            return SourceAuthError(message, source=source, status_code=status)
        if status == 429:
            # A 429-coded rate limit is backed off and retried by the HTTP layer, then given up.
            return SourceRateLimited(message, source=source, status_code=429, retry_after=None)
        return SourceUnavailable(message, source=source, status_code=status)

    return classify


class MailshakeConnector:
    """Counts Mailshake sent emails and replies per sender and local day."""

    type_name: ClassVar[str] = "mailshake"
    settings_model: ClassVar[type[ConnectorSettings]] = MailshakeSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("emails_sent", "Emails sent from each Mailshake sender", subject="sender email"),
        MetricSpec("replies", "Replies received by each Mailshake sender", subject="sender email"),
    )
    history_limit: ClassVar[timedelta | None] = None
    # The activity feeds have no date filter: every read starts at the newest item, so a backfill reads the
    # whole range in one window instead of re-reading the feed once per chunk.
    date_filter: ClassVar[bool] = False

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, MailshakeSettings)
        self._source = context.source
        key = settings.api_key.get_secret_value()
        authorization = basic_auth_value(key, "")
        self._http = SourceHttpClient(
            context=context,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            headers={"Authorization": authorization, "Accept": "application/json"},
            policy=HttpPolicy(rate_limit=RATE_LIMIT, classify=_classifier(context.source)),
            secrets=(key, authorization.removeprefix("Basic ")),
        )

    async def check(self) -> None:
        """Read the key's user, the cheapest authenticated call."""
        await self._http.get_json("/me")

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count sent emails and replies per sender for each local day of `window`."""
        counts: Counter[tuple[str, str, date]] = Counter()
        if window.end <= window.start:
            return CollectResult(counts=[])
        sender_of_message: dict[int | str, str] = {}
        seen: set[int | str] = set()
        async for sent in self._feed("/activity/sent", {}, window):
            sender = _email(sent.from_.address if sent.from_ else None)
            if sent.id is not None:
                sender_of_message[sent.id] = sender
                if sent.id in seen:
                    continue
                seen.add(sent.id)
            if window.contains(sent.action_date):
                counts[("emails_sent", sender, local_day(sent.action_date, window.timezone))] += 1
        seen.clear()
        async for reply in self._feed("/activity/replies", {"replyType": "reply"}, window):
            if reply.type is not None and reply.type != "reply":
                continue
            if reply.id is not None:
                if reply.id in seen:
                    continue
                seen.add(reply.id)
            if window.contains(reply.action_date):
                sender = _reply_sender(reply, sender_of_message)
                counts[("replies", sender, local_day(reply.action_date, window.timezone))] += 1
        return CollectResult(
            counts=[
                DailyCount(metric=metric, subject=subject, day=day, value=float(value))
                for (metric, subject, day), value in sorted(counts.items())
            ]
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _feed(self, path: str, params: Mapping[str, str], window: SyncWindow) -> AsyncIterator[_Activity]:
        """Yield a feed's records page by page until an empty `nextToken` or the window is passed."""
        token: str | None = None
        tokens_seen: set[str] = set()
        for _ in range(MAX_PAGES):
            query: dict[str, str | int] = {**params, "perPage": PAGE_SIZE}
            if token:
                query["nextToken"] = token
            payload = await self._http.get_json(path, params=query)
            page = parse_payload(_PAGE, payload, source=self._source, what=f"GET {path}")
            for record in page.results:
                yield record
            token = page.next_token
            if not token or _passed_window(page.results, window.start):
                return
            if token in tokens_seen:
                raise SourceResponseError(
                    f"{self._source} returned a nextToken it had already returned", source=self._source
                )
            tokens_seen.add(token)
        raise SourceResponseError(f"{self._source} still had more pages after {MAX_PAGES}", source=self._source)


def _passed_window(records: list[_Activity], start: datetime) -> bool:
    """True when a newest-first page already reaches back before `start`: later pages are older."""
    if len(records) < 2:
        return False
    dates = [r.action_date for r in records]
    newest_first = all(a >= b for a, b in pairwise(dates)) and dates[0] > dates[-1]
    return newest_first and dates[-1] < start


def _reply_sender(reply: _Activity, sender_of_message: Mapping[int | str, str]) -> str:
    for to in reply.to or []:
        if to.address and to.address.strip():
            return _email(to.address)
    if reply.parent is not None and reply.parent.id is not None:
        return sender_of_message.get(reply.parent.id, UNKNOWN_SENDER)
    return UNKNOWN_SENDER


def _email(address: str | None) -> str:
    """Normalise an address: email addresses compare case-insensitively."""
    cleaned = (address or "").strip().lower()
    return cleaned or UNKNOWN_SENDER


def _error_code(body: bytes) -> str:
    try:
        decoded = json.loads(body)
    except ValueError:
        return ""
    code = decoded.get("code") if isinstance(decoded, dict) else None
    return code if isinstance(code, str) else ""
