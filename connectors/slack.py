"""Slack Web API: messages each user posted in the configured channels, per local day.

What this relies on (docs.slack.dev, as summarised in the reference):
- `GET /conversations.history?channel=C…&oldest=<ts>&latest=<ts>&inclusive=true&limit=N&cursor=…`
  with `Authorization: Bearer xoxb-…/xoxp-…` answers `{ok, messages: [{type, subtype?, user, ts}],
  has_more, response_metadata: {next_cursor}}`; an empty `next_cursor` ends the pages. `ts` is
  Unix seconds with six decimals, read here exactly (no float rounding at the window's edges).
  `inclusive` covers both bounds, so the half-open window is applied again here.
- Errors come as HTTP 200 with `{"ok": false, "error": "…"}`: `invalid_auth`, `not_authed`,
  `missing_scope`, `token_revoked`, … are auth errors (never retried); `channel_not_found`,
  `not_in_channel`, `invalid_arguments`, … are our request's fault. Over the limit: HTTP 429 with
  `Retry-After` in seconds, which the HTTP layer waits out.
- Limits: conversations.history is Tier 3 (50+ per minute) for Marketplace and internal apps; for
  commercially distributed non-Marketplace apps it is 1 request per minute with `limit` at most 15
  (new installs since 29 May 2025, existing ones from 3 Mar 2026). `requests_per_minute` and
  `page_size` set which applies; the default is Tier 3's floor, 50 per minute.
- `auth.test` is the cheapest authenticated call.

Decisions: a message counts when it has a `user` and is something a person wrote (no subtype, or
`thread_broadcast`, `file_share`, `me_message`); joins, topic changes and bot posts are not
messages sent. conversations.history lists a thread's parent and broadcasts, not thread replies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter

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
from connectors.http import HttpPolicy, Page, RateLimit, bearer_client, paginate_cursor, parse_payload
from syncd.errors import (
    SourceAuthError,
    SourceError,
    SourceRateLimited,
    SourceRequestError,
    SourceResponseError,
    SourceUnavailable,
)

__all__ = ["SlackConnector", "SlackSettings", "format_ts", "parse_ts"]

DEFAULT_BASE_URL = "https://slack.com/api"
METRIC = "messages_sent"
# Counted subtypes: what a person posts. Everything else (channel_join, bot_message, …) is not.
COUNTED_SUBTYPES = frozenset({"thread_broadcast", "file_share", "me_message"})
# One second more than the minute: requests reach Slack a little later than they leave here.
RATE_WINDOW_SECONDS = 61.0
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "missing_scope",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "not_allowed_token_type",
        "ekm_access_denied",
        "team_access_not_granted",
    }
)
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
RESPONSE_ERRORS = frozenset({"invalid_json", "json_not_object"})


class SlackSettings(ConnectorSettings):
    """A Slack workspace: a bot or user token, the channels to read, and the app's rate tier."""

    api_key: SecretStr = Field(description="a bot (xoxb-) or user (xoxp-) token with *:history scopes (secret)")
    channels: list[str] = Field(min_length=1, description="conversation ids to read (C…, G…, D…)")
    requests_per_minute: int = Field(
        default=50,
        ge=1,
        le=100,
        description="conversations.history calls per minute: 50 (Tier 3); 1 for non-Marketplace apps",
    )
    page_size: int = Field(
        default=200, ge=1, le=999, description="messages per page; at most 15 for non-Marketplace apps"
    )


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ts: str
    user: str | None = None
    subtype: str | None = None


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="ignore")

    next_cursor: str | None = None


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ok: bool
    error: str | None = None


class _History(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messages: list[_Message] = Field(default_factory=list)
    has_more: bool = False
    response_metadata: _Metadata | None = None


_ENVELOPE = TypeAdapter(_Envelope)
_HISTORY = TypeAdapter(_History)


class SlackConnector:
    """Counts messages per Slack user and local day in the configured channels."""

    type_name: ClassVar[str] = "slack"
    settings_model: ClassVar[type[ConnectorSettings]] = SlackSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(METRIC, "Messages posted in the configured Slack channels", subject="the Slack user id"),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, SlackSettings)
        self._settings = settings
        self._source = context.source
        self._http = bearer_client(
            context,
            settings,
            default_base_url=DEFAULT_BASE_URL,
            policy=HttpPolicy(
                rate_limit=RateLimit(settings.requests_per_minute, RATE_WINDOW_SECONDS),
                classify=_classifier(context.source),
            ),
        )

    async def check(self) -> None:
        """Call auth.test, the cheapest authenticated call."""
        await self._call("auth.test", {})

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count messages per user on each local day of `window`, over every configured channel."""
        counts: Counter[tuple[str, date]] = Counter()
        if window.end <= window.start:
            return CollectResult(counts=[])
        for channel in dict.fromkeys(self._settings.channels):
            seen: set[str] = set()
            async for message in self._history(channel, window):
                if message.ts in seen:
                    continue
                seen.add(message.ts)
                if not message.user or (message.subtype is not None and message.subtype not in COUNTED_SUBTYPES):
                    continue
                posted = parse_ts(message.ts, source=self._source)
                if window.contains(posted):
                    counts[(message.user, local_day(posted, window.timezone))] += 1
        return CollectResult(
            counts=[
                DailyCount(metric=METRIC, subject=user, day=day, value=float(value))
                for (user, day), value in sorted(counts.items())
            ]
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    def _history(self, channel: str, window: SyncWindow) -> AsyncIterator[_Message]:
        base_params = {
            "channel": channel,
            "oldest": format_ts(window.start),
            "latest": format_ts(window.end),
            "inclusive": "true",
            "limit": str(self._settings.page_size),
        }

        async def fetch(cursor: str | None) -> object:
            params = base_params if cursor is None else {**base_params, "cursor": cursor}
            return await self._call("conversations.history", params)

        def extract(payload: object) -> Page[_Message]:
            page = parse_payload(_HISTORY, payload, source=self._source, what="conversations.history")
            cursor = page.response_metadata.next_cursor if page.response_metadata else None
            return Page(items=page.messages, next_cursor=cursor or None)

        return paginate_cursor(fetch, extract, source=self._source)

    async def _call(self, method: str, params: Mapping[str, str]) -> object:
        """Call a Web API method; `ok: false` answers were already turned into errors by the classifier."""
        payload = await self._http.get_json(f"/{method}", params=params)
        parse_payload(_ENVELOPE, payload, source=self._source, what=method)
        return payload


def _classifier(source: str) -> Callable[[httpx.Response], SourceError | None]:
    """Read Slack's HTTP 200 `ok: false` answers as the errors they are, inside the HTTP layer.

    There a transient code (internal_error) is retried and `ratelimited` is backed off like a 429.
    """

    def classify(response: httpx.Response) -> SourceError | None:
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        if not isinstance(body, dict) or body.get("ok") is not False:
            return None
        method = response.request.url.path.rsplit("/", 1)[-1]
        return _error(source, method, str(body.get("error") or "unknown_error"))

    return classify


def _error(source: str, method: str, code: str) -> SourceError:
    """Map a Slack error code to the syncd error saying what to do about it."""
    message = f"{source}: Slack answered {method} with error {code!r}"
    if code in AUTH_ERRORS:
        return SourceAuthError(message, source=source, status_code=200)
    if code == "ratelimited":
        # Reported as a 429 so the HTTP layer backs off and retries as it does for one.
        return SourceRateLimited(message, source=source, status_code=429)
    if code in TRANSIENT_ERRORS:
        return SourceUnavailable(message, source=source, status_code=200)
    if code in RESPONSE_ERRORS:
        return SourceResponseError(message, source=source, status_code=200)
    return SourceRequestError(message, source=source, status_code=200)


def format_ts(instant: datetime) -> str:
    """Format an instant as a Slack timestamp: Unix seconds with six decimals."""
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    seconds, micros = divmod(delta // timedelta(microseconds=1), 1_000_000)
    return f"{seconds}.{micros:06d}"


def parse_ts(ts: str, *, source: str = "") -> datetime:
    """Read a Slack `ts` ("1767225600.000100") exactly, as an aware UTC instant."""
    try:
        value = Decimal(ts)
    except InvalidOperation:
        raise SourceResponseError(f"{source}: Slack sent an unreadable ts", source=source) from None
    if not value.is_finite():
        raise SourceResponseError(f"{source}: Slack sent an unreadable ts", source=source)
    micros = int(value * 1_000_000)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
