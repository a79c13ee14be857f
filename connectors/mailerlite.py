"""MailerLite (the new API at connect.mailerlite.com): new active subscribers per local day.

What this relies on (MailerLite's developer docs, as summarised in the reference):
- `GET /subscribers?filter[status]=active&limit=100&cursor=…` (or `GET /groups/{id}/subscribers`)
  answers `{data: [{id, email, status, subscribed_at, created_at, …}], links: {…},
  meta: {path, per_page, next_cursor, prev_cursor}}`; `limit` defaults to 25, and the official
  SDKs cap it at 100. A null `meta.next_cursor` ends the list.
- Auth is `Authorization: Bearer <token>`; a bad token is answered 401 `{"message":"Unauthenticated."}`.
- 120 requests per minute, then 429 (clients are told to honour `Retry-After`).
- Times are written `2021-09-01 14:03:50`, without a zone.

Unconfirmed, and handled defensively:
- The list has **no date filter** and its order is not documented (the docs and SDKs name no
  sort parameter), so every page is read to the end and the window is applied here; items are
  counted once per `id` in case a subscriber moves between pages mid-read.
- The zone of the times: UTC is assumed (the account's zone is not in the response).
- `subscribed_at` is the day counted; a subscriber without one (imported, never opted in) falls
  back to `created_at`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator

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
from connectors.http import (
    HttpPolicy,
    Page,
    RateLimit,
    bearer_client,
    paginate_cursor,
    parse_payload,
)

__all__ = ["MailerliteConnector", "MailerliteSettings", "parse_mailerlite_time"]

DEFAULT_BASE_URL = "https://connect.mailerlite.com/api"
PAGE_SIZE = 100  # the most MailerLite serves per page
RATE_LIMIT = RateLimit(requests=120, per_seconds=60.0)  # MailerLite's documented limit per token
METRIC = "new_subscribers"
ALL_SUBSCRIBERS = "all"
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_mailerlite_time(value: object) -> datetime | None:
    """Read `2021-09-01 14:03:50` (no zone: UTC assumed) or ISO 8601; None for null or empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("a time must be text")
    try:
        return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class MailerliteSettings(ConnectorSettings):
    """A MailerLite account: its API token and, optionally, the group whose subscribers count."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    api_key: SecretStr = Field(description="the MailerLite API token (secret)")
    group_id: str | None = Field(default=None, description="count only this group's subscribers")


class _Subscriber(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | int | None = None
    subscribed_at: datetime | None = None
    created_at: datetime | None = None

    @field_validator("subscribed_at", "created_at", mode="before")
    @classmethod
    def _read_time(cls, value: object) -> datetime | None:
        return parse_mailerlite_time(value)

    @property
    def joined_at(self) -> datetime | None:
        return self.subscribed_at or self.created_at


class _Meta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    next_cursor: str | None = None


class _SubscribersPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: list[_Subscriber]
    meta: _Meta


_PAGE = TypeAdapter(_SubscribersPage)


class MailerliteConnector:
    """Counts active MailerLite subscribers by the local day they subscribed, for the account or a group."""

    type_name: ClassVar[str] = "mailerlite"
    settings_model: ClassVar[type[ConnectorSettings]] = MailerliteSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(METRIC, "Active subscribers who joined MailerLite", subject="the group id, else all"),
    )
    history_limit: ClassVar[timedelta | None] = None
    # The subscriber list has no date filter: every read starts at the newest item, so a backfill reads the
    # whole range in one window instead of re-reading the feed once per chunk.
    date_filter: ClassVar[bool] = False

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, MailerliteSettings)
        self._settings = settings
        self._source = context.source
        self._http = bearer_client(
            context,
            settings,
            default_base_url=DEFAULT_BASE_URL,
            policy=HttpPolicy(rate_limit=RATE_LIMIT),
            headers={"Accept": "application/json"},
        )

    async def check(self) -> None:
        """Read one subscriber of the account (or the group), the cheapest authenticated call."""
        await self._http.get_json(self._path, params={"limit": "1"})

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count active subscribers who subscribed on each local day of `window`."""
        per_day: Counter[date] = Counter()
        seen: set[str] = set()
        if window.end > window.start:
            async for subscriber in self._subscribers():
                if subscriber.id is not None:
                    key = str(subscriber.id)
                    if key in seen:
                        continue
                    seen.add(key)
                joined = subscriber.joined_at
                if joined is not None and window.contains(joined):
                    per_day[local_day(joined, window.timezone)] += 1
        subject = self._settings.group_id or ALL_SUBSCRIBERS
        return CollectResult(
            counts=[
                DailyCount(metric=METRIC, subject=subject, day=day, value=float(value))
                for day, value in sorted(per_day.items())
            ]
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    @property
    def _path(self) -> str:
        group = self._settings.group_id
        return f"/groups/{quote(group, safe='')}/subscribers" if group else "/subscribers"

    def _subscribers(self) -> AsyncIterator[_Subscriber]:
        path = self._path
        base_params = {"filter[status]": "active", "limit": str(PAGE_SIZE)}

        async def fetch(cursor: str | None) -> object:
            params = base_params if cursor is None else {**base_params, "cursor": cursor}
            return await self._http.get_json(path, params=params)

        def extract(payload: object) -> Page[_Subscriber]:
            page = parse_payload(_PAGE, payload, source=self._source, what=f"GET {path}")
            return Page(items=page.data, next_cursor=page.meta.next_cursor)

        return paginate_cursor(fetch, extract, source=self._source)
