"""Google Analytics 4 Data API: sessions and total users of one property, per day.

What this relies on (the GA4 Data API v1beta reference, as summarised in the reference):
- `POST /properties/{id}:runReport` with `{"dateRanges": [{"startDate", "endDate"}],
  "dimensions": [{"name": "date"}], "metrics": [{"name": "sessions"}, {"name": "totalUsers"}],
  "limit", "offset"}`; both dates are inclusive `YYYY-MM-DD`.
- The answer: `{dimensionHeaders, metricHeaders, rows: [{dimensionValues: [{value: "20250101"}],
  metricValues: [{value: "123"}, ...]}], rowCount, metadata: {timeZone, ...}}`. Values are
  strings; `rowCount` is the total whatever `limit`/`offset`; `rows` and `rowCount` are left out
  when there is no data; row order is not promised, so rows are keyed by their date.
- `limit` is at most 250,000 per page; we page with 10,000 and `offset` until `rowCount` is read.
- Quotas are tokens per property (200,000 a day, 40,000 an hour, 14,000 per project per hour,
  10 concurrent requests); running out answers 429 `RESOURCE_EXHAUSTED` for every request to the
  property. We send at most 10 requests a second, one at a time; a sync costs one or two requests.
- Errors are `{"error": {"code", "message", "status"}}`: 401 `UNAUTHENTICATED`, 403
  `PERMISSION_DENIED` (no access to the property), 400 `INVALID_ARGUMENT`.

Time zones: the `date` dimension is a day in the *property's* time zone (set in GA4's admin).
syncd's days are in the configured `timezone`; this connector assumes the two match, and says so
in `CollectResult.notes` when `metadata.timeZone` differs from the window's zone.
Days: a report day is a whole day, so every day the window touches is asked for whole; only
whole local days are exact, and the window's days are reported complete (today's value so far).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
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
)
from connectors.http import HttpPolicy, RateLimit, bearer_client, parse_payload
from connectors.pagination import require_total
from syncd.errors import SourceResponseError

__all__ = ["Ga4Connector", "Ga4Settings"]

DEFAULT_BASE_URL = "https://analyticsdata.googleapis.com/v1beta"
PAGE_SIZE = 10_000
MAX_PAGES = 100
RATE_LIMIT = RateLimit(requests=10, per_seconds=1.0)  # conservative: GA4 meters tokens, not requests
# metric name in syncd -> GA4 metric API name, in the order they are requested
METRICS: Mapping[str, str] = {"sessions": "sessions", "total_users": "totalUsers"}


class Ga4Settings(ConnectorSettings):
    """A GA4 property: an OAuth access token and the property's numeric id."""

    # YAML reads `property_id: 123456789` as a number; the id is text to GA4's paths.
    model_config = ConfigDict(coerce_numbers_to_str=True)

    api_key: SecretStr = Field(description="an OAuth 2.0 access token with analytics.readonly (secret)")
    property_id: str = Field(description="the GA4 property id, e.g. 123456789 (not the G-... measurement id)")

    @field_validator("property_id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        cleaned = value.strip().removeprefix("properties/")
        if not cleaned.isdigit():
            raise ValueError("property_id must be the numeric GA4 property id")
        return cleaned


class _Value(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str = ""


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dimension_values: list[_Value] = Field(alias="dimensionValues")
    metric_values: list[_Value] = Field(alias="metricValues")


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="ignore")

    time_zone: str | None = Field(default=None, alias="timeZone")


class _Header(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str


class _Report(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metric_headers: list[_Header] = Field(default_factory=list, alias="metricHeaders")
    rows: list[_Row] = Field(default_factory=list)
    row_count: int = Field(default=0, alias="rowCount")
    metadata: _Metadata = Field(default_factory=_Metadata)


_REPORT = TypeAdapter(_Report)


class Ga4Connector:
    """Reads daily sessions and total users of a GA4 property."""

    type_name: ClassVar[str] = "ga4"
    settings_model: ClassVar[type[ConnectorSettings]] = Ga4Settings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("sessions", "Sessions on the property per day", subject="the property id"),
        MetricSpec("total_users", "Users active on the property per day", subject="the property id"),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, Ga4Settings)
        self._settings = settings
        self._source = context.source
        self._path = f"/properties/{quote(settings.property_id, safe='')}:runReport"
        self._http = bearer_client(
            context,
            settings,
            default_base_url=DEFAULT_BASE_URL,
            policy=HttpPolicy(rate_limit=RATE_LIMIT),
        )

    async def check(self) -> None:
        """Run a one-row report for yesterday, the cheapest call that proves access to the property."""
        body = {
            "dateRanges": [{"startDate": "yesterday", "endDate": "yesterday"}],
            "metrics": [{"name": "sessions"}],
            "limit": 1,
        }
        await self._http.post_json(self._path, json=body)

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Return sessions and total users for each day the window touches."""
        if window.end <= window.start:
            return CollectResult(counts=[])
        first, last = window.first_day, window.last_day
        values: dict[tuple[str, date], float] = {}
        zones: set[str] = set()
        offset = 0
        for _ in range(MAX_PAGES):
            report = await self._page(first, last, offset)
            if report.metadata.time_zone:
                zones.add(report.metadata.time_zone)
            names = [h.name for h in report.metric_headers] or list(METRICS.values())
            for row in report.rows:
                day = self._day(row)
                if not first <= day <= last:
                    continue
                for metric, api_name in METRICS.items():
                    values[(metric, day)] = self._number(row, names, api_name)
            offset += len(report.rows)
            if offset >= report.row_count:
                break
            if len(report.rows) < PAGE_SIZE:
                # A short or empty page before rowCount is a truncated answer, not the end.
                require_total(offset, report.row_count, source=self._source, what="runReport")
        else:
            raise SourceResponseError(
                f"{self._source} still had report rows after {MAX_PAGES} pages", source=self._source
            )
        subject = self._settings.property_id
        return CollectResult(
            counts=[
                DailyCount(metric=metric, subject=subject, day=day, value=value)
                for (metric, day), value in sorted(values.items())
            ],
            notes=_zone_notes(zones, window),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _page(self, first: date, last: date, offset: int) -> _Report:
        body = {
            "dateRanges": [{"startDate": first.isoformat(), "endDate": last.isoformat()}],
            "dimensions": [{"name": "date"}],
            "metrics": [{"name": name} for name in METRICS.values()],
            "limit": PAGE_SIZE,
            "offset": offset,
        }
        payload = await self._http.post_json(self._path, json=body)
        return parse_payload(_REPORT, payload, source=self._source, what=f"POST {self._path}")

    def _day(self, row: _Row) -> date:
        raw = row.dimension_values[0].value if row.dimension_values else ""
        try:
            return datetime.strptime(raw, "%Y%m%d").date()  # noqa: DTZ007 - a calendar day, no instant
        except ValueError:
            raise SourceResponseError(
                f"{self._source} answered a report row whose date is not YYYYMMDD", source=self._source
            ) from None

    def _number(self, row: _Row, names: list[str], api_name: str) -> float:
        try:
            return float(row.metric_values[names.index(api_name)].value)
        except (ValueError, IndexError):
            raise SourceResponseError(
                f"{self._source} answered a report row without a numeric {api_name}", source=self._source
            ) from None


def _zone_notes(zones: set[str], window: SyncWindow) -> tuple[str, ...]:
    """Warn when the property's days are not the configured zone's days."""
    configured = window.timezone.key
    return tuple(
        f"the GA4 property reports days in {zone}, not {configured}: its daily counts are "
        f"{zone} days filed under the same dates"
        for zone in sorted(zones)
        if zone != configured
    )
