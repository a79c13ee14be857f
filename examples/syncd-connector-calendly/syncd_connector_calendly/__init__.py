"""An example third-party connector: meetings booked per host, from Calendly's scheduled events.

It imports only `connectors` (syncd's public connector surface), as any plugin should. The
vendor facts it relies on: `GET /scheduled_events?organization=&min_start_time=&max_start_time=`
with a Bearer token, `collection[]` items carrying `created_at` and `event_memberships[].user_email`,
and cursor pagination through `pagination.next_page_token` (Calendly API v2 documentation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

from pydantic import BaseModel, Field, TypeAdapter

from connectors import (
    CollectResult,
    ConnectorContext,
    ConnectorSettings,
    DailyCount,
    HttpPolicy,
    MetricSpec,
    Page,
    RateLimit,
    SyncWindow,
    bearer_client,
    expect_settings,
    local_day,
    paginate_cursor,
    parse_payload,
)

__all__ = ["CalendlyConnector", "CalendlySettings"]


class CalendlySettings(ConnectorSettings):
    """Settings: the organization URI whose meetings count."""

    organization: str = Field(description="the organization URI, https://api.calendly.com/organizations/...")


class _Membership(BaseModel):
    user_email: str = ""


class _Event(BaseModel):
    created_at: str
    event_memberships: list[_Membership] = []


class _Pagination(BaseModel):
    next_page_token: str | None = None


class _Page(BaseModel):
    collection: list[_Event]
    pagination: _Pagination = _Pagination()


_PAGE = TypeAdapter(_Page)


class CalendlyConnector:
    """Counts meetings booked (by creation time) per host email and local day."""

    type_name: ClassVar[str] = "calendly"
    settings_model: ClassVar[type[ConnectorSettings]] = CalendlySettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("meetings_booked", "Meetings booked with each host", subject="host email"),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        self._settings = expect_settings(settings, CalendlySettings)
        self._source = context.source
        self._http = bearer_client(
            context,
            settings,
            default_base_url="https://api.calendly.com",
            policy=HttpPolicy(rate_limit=RateLimit(requests=60, per_seconds=60)),
        )

    async def check(self) -> None:
        """Read the current user: the cheapest authenticated call."""
        await self._http.get_json("/users/me")

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count meetings created inside the window per host and local day."""
        counts: Counter[tuple[str, date]] = Counter()
        base = {
            "organization": self._settings.organization,
            "min_start_time": window.start.astimezone(UTC).isoformat(),
            "count": "100",
        }

        async def fetch(cursor: str | None) -> object:
            params = {**base, **({"page_token": cursor} if cursor else {})}
            return await self._http.get_json("/scheduled_events", params=params)

        def extract(payload: object) -> Page[_Event]:
            page = parse_payload(_PAGE, payload, source=self._source, what="GET /scheduled_events")
            return Page(items=page.collection, next_cursor=page.pagination.next_page_token)

        async for event in paginate_cursor(fetch, extract, source=self._source):
            created = datetime.fromisoformat(event.created_at)
            if not window.contains(created):
                continue
            for member in event.event_memberships:
                counts[(member.user_email.lower(), local_day(created, window.timezone))] += 1
        return CollectResult(
            counts=[DailyCount("meetings_booked", host, day, float(n)) for (host, day), n in sorted(counts.items())]
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()
