"""Instantly API v2: emails sent and replies per sending account, from the daily account analytics.

What this relies on (Instantly's v2 OpenAPI, `developer.instantly.ai`, and the reference):
- Auth is `Authorization: Bearer <key>`; 401 answers `{statusCode, error, message}`.
- `GET /accounts?limit=100&starting_after=…` lists the workspace's sending accounts as
  `{items: [{email, …}], next_starting_after}`; `limit` is at most 100 and the list ends when
  `next_starting_after` is missing (or a page comes back empty).
- `GET /accounts/analytics/daily?emails=a&emails=b&start_date=YYYY-MM-DD&end_date=YYYY-MM-DD`
  answers a bare array `[{date, email_account, sent, replies, …}]`, one row per account and
  day. The `emails` filter takes at most 200 accounts and the range at most 31 days.
- `GET /campaigns/{id}` returns the campaign with `email_list`, the accounts it sends from.
- One budget per workspace, shared by every key and by v1 and v2: 100 requests/s and 6,000
  requests/min; over it, 429. A limiter allowing 100 in any 1 s also keeps any 60 s to 6,000.

Time zone: Instantly documents date-only values as UTC midnight, so its days are UTC days. A
daily count cannot be split by hour, so the count of vendor date D is given to local day D: the
local day holding that UTC day's midday for any zone within 12 hours of UTC. The counts are
exact per day when syncd's `timezone` is UTC; elsewhere an email sent near midnight may land
on the neighbouring day. The window's days are asked for by date and filtered again here.

Decisions:
- `replies` is the row's `replies` (every reply, automatic replies included, as Instantly counts).
- `campaign_ids`: the account analytics cannot be split by campaign, so the setting narrows the
  accounts counted to those the campaigns send from (their `email_list`).

Unconfirmed, and handled defensively: whether `end_date` is inclusive (we ask for one day more
and drop rows outside the days each request owns), and the shape of `email_list`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import ClassVar
from urllib.parse import quote

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

__all__ = ["InstantlyConnector", "InstantlySettings"]

DEFAULT_BASE_URL = "https://api.instantly.ai/api/v2"
ACCOUNTS_PAGE_SIZE = 100  # the most `GET /accounts` serves per page
EMAILS_PER_REQUEST = 100  # the analytics filter takes up to 200; fewer keeps URLs short
DAYS_PER_REQUEST = 30  # the analytics range is at most 31 days
RATE_LIMIT = RateLimit(requests=100, per_seconds=1.0)  # the workspace's documented limit


class InstantlySettings(ConnectorSettings):
    """An Instantly workspace: its v2 API key and, optionally, the campaigns whose accounts count."""

    api_key: SecretStr = Field(description="the Instantly API v2 key (secret)")
    campaign_ids: list[str] | None = Field(
        default=None, description="count only the accounts these campaigns send from; default: all"
    )


class _Account(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: str


class _AccountsPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    items: list[_Account]
    next_starting_after: str | None = None


class _Campaign(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email_list: list[str] = []


class _DailyRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    date: date
    email_account: str
    sent: int = 0
    replies: int = 0


_ACCOUNTS = TypeAdapter(_AccountsPage)
_CAMPAIGN = TypeAdapter(_Campaign)
_ROWS = TypeAdapter(list[_DailyRow])


class InstantlyConnector:
    """Counts Instantly emails sent and replies per sending account and day."""

    type_name: ClassVar[str] = "instantly"
    settings_model: ClassVar[type[ConnectorSettings]] = InstantlySettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("emails_sent", "Emails sent from each Instantly account", subject="sending account email"),
        MetricSpec("replies", "Replies received by each Instantly account", subject="sending account email"),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, InstantlySettings)
        self._settings = settings
        self._source = context.source
        self._http = bearer_client(
            context,
            settings,
            default_base_url=DEFAULT_BASE_URL,
            policy=HttpPolicy(rate_limit=RATE_LIMIT),
        )

    async def check(self) -> None:
        """List one account, the cheapest authenticated call."""
        await self._http.get_json("/accounts", params={"limit": 1})

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Sum sent emails and replies per account for each day of `window` (vendor dates, UTC)."""
        if window.end <= window.start:
            return CollectResult(counts=[])
        emails = await self._accounts_to_count()
        counts: Counter[tuple[str, str, date]] = Counter()
        first, last = window.first_day, window.last_day
        day = first
        while day <= last:
            # This request owns [day, owned_end); a row outside it belongs to another request.
            owned_end = min(day + timedelta(days=DAYS_PER_REQUEST), last + timedelta(days=1))
            for batch in _batches(emails, EMAILS_PER_REQUEST):
                for row in await self._daily_rows(batch, day, owned_end):
                    if not day <= row.date < owned_end:
                        continue
                    account = _normalise(row.email_account)
                    for metric, value in (("emails_sent", row.sent), ("replies", row.replies)):
                        if value:
                            counts[(metric, account, row.date)] += value
            day = owned_end
        return CollectResult(
            counts=[
                DailyCount(metric=metric, subject=subject, day=day, value=float(value))
                for (metric, subject, day), value in sorted(counts.items())
            ]
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _accounts_to_count(self) -> list[str]:
        """Return the sending accounts to ask analytics for, as Instantly spells them, without repeats."""
        if self._settings.campaign_ids:
            listed: list[str] = []
            for campaign_id in self._settings.campaign_ids:
                path = f"/campaigns/{quote(campaign_id, safe='')}"
                payload = await self._http.get_json(path)
                campaign = parse_payload(_CAMPAIGN, payload, source=self._source, what="GET /campaigns/{id}")
                listed.extend(campaign.email_list)
            return _distinct(listed)

        async def fetch(cursor: str | None) -> object:
            params: dict[str, str | int] = {"limit": ACCOUNTS_PAGE_SIZE}
            if cursor is not None:
                params["starting_after"] = cursor
            return await self._http.get_json("/accounts", params=params)

        def extract(payload: object) -> Page[_Account]:
            page = parse_payload(_ACCOUNTS, payload, source=self._source, what="GET /accounts")
            # An empty page ends the list even if a cursor came with it.
            return Page(items=page.items, next_cursor=page.next_starting_after if page.items else None)

        return _distinct([a.email async for a in paginate_cursor(fetch, extract, source=self._source)])

    async def _daily_rows(self, emails: Sequence[str], start: date, end: date) -> list[_DailyRow]:
        params = {"emails": list(emails), "start_date": start.isoformat(), "end_date": end.isoformat()}
        payload = await self._http.get_json("/accounts/analytics/daily", params=params)
        return parse_payload(_ROWS, payload, source=self._source, what="GET /accounts/analytics/daily")


def _batches(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _distinct(emails: Sequence[str]) -> list[str]:
    """Keep the first spelling of each address (the vendor's filter may be case-sensitive), sorted."""
    by_key: dict[str, str] = {}
    for email in emails:
        if email.strip():
            by_key.setdefault(_normalise(email), email.strip())
    return [by_key[key] for key in sorted(by_key)]


def _normalise(email: str) -> str:
    """Email addresses compare case-insensitively."""
    return email.strip().lower()
