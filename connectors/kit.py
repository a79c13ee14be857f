"""Kit (formerly ConvertKit) API v4: new subscribers per local day, for the account or one tag.

What this relies on (Kit's v4 reference, as summarised in the reference):
- `GET /subscribers?created_after=…&created_before=…&status=all&per_page=1000&after=<end_cursor>`
  answers `{subscribers: [{id, created_at, …}], pagination: {has_next_page, end_cursor, …}}`;
  `per_page` is at most 1000. `GET /tags/{tag_id}/subscribers` has the same shape plus `tagged_at`.
- Auth is the `X-Kit-Api-Key` header; an API key may make 120 requests per rolling 60 s.

Decisions:
- "New subscribers" counts subscribers by `created_at`, the moment they joined the account.
  With `tag_id` it counts the tag's members created in the window (same field, same filter), not
  people tagged in the window: a long-standing subscriber who gains a tag is not new. `tagged_at`
  is therefore ignored.
- `status=all`: someone who opted in and unsubscribed the same week still opted in that day.
- Dates: the docs give `created_after`/`created_before` as yyyy-mm-dd while the examples show
  datetimes, and whether the bounds are inclusive is not documented. We send the UTC dates one
  day either side of the window, so the vendor's filter can only over-select, and apply the exact
  half-open window to `created_at` here.

Unconfirmed: the v4 error body, and `GET /account` as the cheapest call (it is the documented
account endpoint).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar
from urllib.parse import quote

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
from connectors.http import (
    HttpPolicy,
    Page,
    RateLimit,
    SourceHttpClient,
    paginate_cursor,
    parse_payload,
)

__all__ = ["KitConnector", "KitSettings"]

DEFAULT_BASE_URL = "https://api.kit.com/v4"
PAGE_SIZE = 1000  # the most Kit serves per page
RATE_LIMIT = RateLimit(requests=120, per_seconds=60.0)  # Kit's limit for API keys (OAuth gets 600)
METRIC = "new_subscribers"
ALL_SUBSCRIBERS = "all"


class KitSettings(ConnectorSettings):
    """A Kit account: its v4 API key and, optionally, the tag whose subscribers count."""

    # YAML reads `tag_id: 123` as a number; Kit's ids are numbers, the setting is text.
    model_config = ConfigDict(coerce_numbers_to_str=True)

    api_key: SecretStr = Field(description="the Kit v4 API key (secret)")
    tag_id: str | None = Field(default=None, description="count only subscribers with this tag")


class _Subscriber(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int | str | None = None
    created_at: AwareDatetime


class _Pagination(BaseModel):
    model_config = ConfigDict(extra="ignore")

    has_next_page: bool = False
    end_cursor: str | None = None


class _SubscribersPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    subscribers: list[_Subscriber]
    pagination: _Pagination


_PAGE = TypeAdapter(_SubscribersPage)


class KitConnector:
    """Counts Kit subscribers by the local day they were created, for the account or one tag."""

    type_name: ClassVar[str] = "kit"
    settings_model: ClassVar[type[ConnectorSettings]] = KitSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(METRIC, "Subscribers created in Kit", subject="the tag id, else all"),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, KitSettings)
        self._settings = settings
        self._source = context.source
        key = settings.api_key.get_secret_value()
        self._http = SourceHttpClient(
            context=context,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            headers={"X-Kit-Api-Key": key},
            policy=HttpPolicy(rate_limit=RATE_LIMIT),
            secrets=(key,),
        )

    async def check(self) -> None:
        """Read the account, the cheapest authenticated call."""
        await self._http.get_json("/account")

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count subscribers created on each local day of `window`."""
        subject = self._settings.tag_id or ALL_SUBSCRIBERS
        per_day: Counter[date] = Counter()
        seen: set[int | str] = set()
        async for subscriber in self._subscribers(window):
            if subscriber.id is not None:
                if subscriber.id in seen:
                    continue
                seen.add(subscriber.id)
            if window.contains(subscriber.created_at):
                per_day[local_day(subscriber.created_at, window.timezone)] += 1
        return CollectResult(
            counts=[
                DailyCount(metric=METRIC, subject=subject, day=day, value=float(value))
                for day, value in sorted(per_day.items())
            ]
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    def _subscribers(self, window: SyncWindow) -> AsyncIterator[_Subscriber]:
        tag_id = self._settings.tag_id
        path = f"/tags/{quote(tag_id, safe='')}/subscribers" if tag_id else "/subscribers"
        after, before = _padded_utc_dates(window.start, window.end)
        base_params = {
            "created_after": after.isoformat(),
            "created_before": before.isoformat(),
            "status": "all",
            "per_page": str(PAGE_SIZE),
        }

        async def fetch(cursor: str | None) -> object:
            params = base_params if cursor is None else {**base_params, "after": cursor}
            return await self._http.get_json(path, params=params)

        def extract(payload: object) -> Page[_Subscriber]:
            page = parse_payload(_PAGE, payload, source=self._source, what=f"GET {path}")
            more = page.pagination.has_next_page and page.pagination.end_cursor
            return Page(items=page.subscribers, next_cursor=page.pagination.end_cursor if more else None)

        return paginate_cursor(fetch, extract, source=self._source)


def _padded_utc_dates(start: datetime, end: datetime) -> tuple[date, date]:
    """Return UTC dates a day outside `[start, end)`, so a date-only filter cannot cut the window."""
    return (
        start.astimezone(UTC).date() - timedelta(days=1),
        end.astimezone(UTC).date() + timedelta(days=1),
    )
