"""Gmail API: emails sent from one mailbox, per local day, by searching the mailbox one day at a time.

What this relies on (Google's Gmail API reference and guides, as summarised in the reference):
- `GET /users/{userId}/messages?q=in:sent after:<epoch> before:<epoch>&maxResults=500&pageToken=`
  answers `{messages: [{id, threadId}], nextPageToken, resultSizeEstimate}`; `messages` is left
  out when nothing matches, and `resultSizeEstimate` is only an estimate, so we count by paging.
  `maxResults` is at most 500. `userId` `me` is the token's owner.
- `after:YYYY/MM/DD` is read as midnight PST, so bounds are sent as epoch seconds. The guide's
  month example (`after:2014/01/01 before:2014/02/01` for January) reads as `[after, before)`.
- The list answers ids only. Rather than fetch every message for its `internalDate`, we search one
  local day at a time (its local midnights as epoch seconds): one list call per day instead of
  one get per message. A message returned for two neighbouring days sits exactly on their shared
  midnight and belongs, half-open, to the later day.
- Quota: 15,000 units per user per minute (`userRateLimitExceeded`), older docs 250 units per user
  per second; `messages.list` costs 5 units, `getProfile` 1. We send at most 40 requests a second
  (200 units/s, 12,000 units/min), inside both.
- Errors are `{"error": {"code", "message", "errors": [{"domain", "reason"}], "status"}}`: 401
  `authError`; rate limits arrive as 403 *or* 429 with reason `userRateLimitExceeded` or
  `rateLimitExceeded`. The shared HTTP layer treats a 403 as an auth failure, so this connector's
  response classifier reads a rate-limit 403 as the 429 it means.

Unconfirmed: whether `q` is refused under the `gmail.metadata` scope (we document `gmail.readonly`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime, time, timedelta
from typing import ClassVar
from urllib.parse import quote

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
)
from connectors.http import (
    HttpPolicy,
    Page,
    RateLimit,
    bearer_client,
    paginate_cursor,
    parse_payload,
)
from syncd.errors import SourceError, SourceRateLimited

__all__ = ["GmailConnector", "GmailSettings", "classify_rate_limit"]

DEFAULT_BASE_URL = "https://gmail.googleapis.com/gmail/v1"
PAGE_SIZE = 500  # the most messages.list serves per page
RATE_LIMIT = RateLimit(requests=40, per_seconds=1.0)  # 200 units/s: inside 250/s and 15,000/min
METRIC = "emails_sent"
RATE_LIMIT_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})


class GmailSettings(ConnectorSettings):
    """A Gmail mailbox: an OAuth access token and which mailbox to read."""

    api_key: SecretStr = Field(description="an OAuth 2.0 access token with gmail.readonly (secret)")
    mailbox: str = Field(default="me", description="the mailbox (userId); `me` is the token's owner")


class _MessageRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    thread_id: str | None = Field(default=None, alias="threadId")


class _MessageList(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messages: list[_MessageRef] = Field(default_factory=list)
    next_page_token: str | None = Field(default=None, alias="nextPageToken")


_LIST = TypeAdapter(_MessageList)


def classify_rate_limit(response: httpx.Response) -> SourceError | None:
    """Read Google's rate-limit 403s as the 429s they are, so they are backed off and not taken as auth."""
    if response.status_code != 403 or not _is_rate_limit(response.content):
        return None
    return SourceRateLimited(
        "gmail is rate limiting this mailbox (HTTP 403 userRateLimitExceeded)",
        status_code=429,
        retry_after=None,
    )


def _is_rate_limit(body: bytes) -> bool:
    """Tell whether a Google error body names a rate-limit reason."""
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    error = payload.get("error") if isinstance(payload, dict) else None
    errors = error.get("errors") if isinstance(error, dict) else None
    if not isinstance(errors, list):
        return False
    return any(isinstance(e, dict) and e.get("reason") in RATE_LIMIT_REASONS for e in errors)


class GmailConnector:
    """Counts messages in a Gmail mailbox's Sent folder per local day."""

    type_name: ClassVar[str] = "gmail"
    settings_model: ClassVar[type[ConnectorSettings]] = GmailSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(METRIC, "Emails sent from the mailbox", subject="the mailbox"),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, GmailSettings)
        self._settings = settings
        self._source = context.source
        self._mailbox_path = f"/users/{quote(settings.mailbox, safe='@')}"
        self._http = bearer_client(
            context,
            settings,
            default_base_url=DEFAULT_BASE_URL,
            policy=HttpPolicy(rate_limit=RATE_LIMIT, classify=classify_rate_limit),
        )

    async def check(self) -> None:
        """Read the mailbox's profile, the cheapest authenticated call (1 unit)."""
        await self._http.get_json(f"{self._mailbox_path}/profile")

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count sent messages on each local day of `window`, one search per day."""
        day_of: dict[str, date] = {}
        for day, start, end in _local_days(window):
            async for message in self._sent_ids(start, end):
                # Seen the day before too: it sits on this day's first instant, so it is this day's.
                day_of[message.id] = day
        per_day: dict[date, int] = {}
        for day in day_of.values():
            per_day[day] = per_day.get(day, 0) + 1
        subject = self._settings.mailbox
        return CollectResult(
            counts=[
                DailyCount(metric=METRIC, subject=subject, day=day, value=float(value))
                for day, value in sorted(per_day.items())
            ]
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    def _sent_ids(self, start: datetime, end: datetime) -> AsyncIterator[_MessageRef]:
        path = f"{self._mailbox_path}/messages"
        # Epoch seconds: a date would be read as midnight Pacific time, not the configured zone's.
        query = f"in:sent after:{_epoch(start)} before:{_epoch(end)}"

        async def fetch(cursor: str | None) -> object:
            params = {"q": query, "maxResults": str(PAGE_SIZE)}
            if cursor is not None:
                params["pageToken"] = cursor
            return await self._http.get_json(path, params=params)

        def extract(payload: object) -> Page[_MessageRef]:
            page = parse_payload(_LIST, payload, source=self._source, what=f"GET {path}")
            return Page(items=page.messages, next_cursor=page.next_page_token)

        return paginate_cursor(fetch, extract, source=self._source)


def _local_days(window: SyncWindow) -> list[tuple[date, datetime, datetime]]:
    """Split `window` into its local days: (day, first instant, end), clipped to the window."""
    days = []
    day = window.first_day
    while day <= window.last_day:
        start = max(window.start, datetime.combine(day, time(), tzinfo=window.timezone))
        following = datetime.combine(day + timedelta(days=1), time(), tzinfo=window.timezone)
        days.append((day, start, min(window.end, following)))
        day += timedelta(days=1)
    return days


def _epoch(instant: datetime) -> int:
    """Return whole epoch seconds; local midnights always fall on whole seconds."""
    return int(instant.timestamp())
