"""Ahrefs API v3: new referring domains and new backlinks of one target, by the day Ahrefs first saw them.

What this relies on (Ahrefs' v3 OpenAPI description and docs, the reference, the official Python SDK):
- `GET /site-explorer/refdomains?target=&mode=&select=domain,first_seen&where=&order_by=&limit=`
  answers `{"refdomains": [{"domain", "first_seen"}]}`; `first_seen` is "the date we first found a
  backlink to your target from the referring domain", typed `date-time` (ISO 8601, written with a
  trailing `Z` in the vendor's examples, e.g. `2026-01-01T00:00:00Z`).
- `GET /site-explorer/all-backlinks` (same parameters plus `aggregation` and `history`) answers
  `{"backlinks": [...]}`. Its `where` recognises `first_seen_link` ("the date we first found a
  backlink to your target on a given referring page", date-time) and `first_seen` (when the
  referring *page* was discovered). A backlink is new on `first_seen_link`; `first_seen` is read
  only when a server leaves `first_seen_link` out.
- `where` is JSON: `{"and": [...]}`, `{"or": [...]}`, `{"not": ...}` or
  `{"field": <alias>, "is": [<op>, <value>]}` with ops `eq`, `neq`, `gt`, `gte`, `lt`, `lte`
  (Ahrefs' filter-syntax page). `order_by` is `field:asc|desc`; `limit` defaults to 1000.
- There is no pagination (no offset, no cursor): when a response holds `limit` rows we ask again
  from the last `first_seen` returned (`gte`), and rows seen twice are counted once (by domain, or
  by referring page and target URL).
- `aggregation=all` (the default `similar_links` folds similar links into one row) and
  `history=all_time` (a link found in the window and lost since was still new that day).
- Auth is `Authorization: Bearer <key>`. At most 60 requests a minute; 429 carries no
  `Retry-After`, so the HTTP layer backs off. Errors are `{"error": "<message>"}` with 400, 401,
  403 (plan or units exhausted), 429 and 500. `GET /subscription-info/limits-and-usage` is free.

- Referring domains held (a level, for `kind: stock` KPIs): `GET /site-explorer/refdomains-history?
  target=&mode=&date_from=YYYY-MM-DD&date_to=YYYY-MM-DD&history_grouping=daily` gives the net count
  per day. Its answer `{"refdomains": [{"date", "refdomains"}]}` is **unconfirmed** (the reference
  documents only the sibling `domain-rating-history`'s `{"domain_ratings": [{"date", ...}]}` shape);
  it is requested only when a KPI reads `referring_domains`, as every call costs units.

Unconfirmed, and handled defensively: whether `first_seen` ever comes without a zone (read as
UTC) or as a bare date (read as 00:00 UTC); the window is applied again here, half-open.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar, Literal

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
from connectors.http import HttpPolicy, RateLimit, bearer_client, parse_payload
from syncd.errors import SourceResponseError

__all__ = ["AhrefsConnector", "AhrefsSettings"]

DEFAULT_BASE_URL = "https://api.ahrefs.com/v3"
PAGE_LIMIT = 1000  # Ahrefs' default `limit`; a full response means there may be more rows
RATE_LIMIT = RateLimit(requests=60, per_seconds=60.0)  # Ahrefs: 60 requests per minute per key
REFERRING_DOMAINS = "new_referring_domains"
BACKLINKS = "new_backlinks"
REFERRING_DOMAINS_HELD = "referring_domains"

Mode = Literal["exact", "prefix", "domain", "subdomains"]


class AhrefsSettings(ConnectorSettings):
    """An Ahrefs API v3 key and the target whose new links count."""

    api_key: SecretStr = Field(description="the Ahrefs API v3 key (secret)")
    target: str = Field(description="the domain or URL whose links count, e.g. acme.io")
    mode: Mode = Field(default="subdomains", description="exact, prefix, domain or subdomains")

    @field_validator("target")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("target must not be empty")
        return value.strip()


def _parse_first_seen(value: object) -> datetime | None:
    """Read a `first_seen` value: ISO 8601, a naive one or a bare date read as UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("first_seen must be a string")
    text = value.strip().replace(" ", "T", 1)
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class _RefDomain(BaseModel):
    model_config = ConfigDict(extra="ignore")

    domain: str
    first_seen: datetime | None = None

    @field_validator("first_seen", mode="before")
    @classmethod
    def _read(cls, value: object) -> datetime | None:
        return _parse_first_seen(value)


class _Backlink(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url_from: str
    url_to: str = ""
    first_seen_link: datetime | None = None
    first_seen: datetime | None = None

    @field_validator("first_seen_link", "first_seen", mode="before")
    @classmethod
    def _read(cls, value: object) -> datetime | None:
        return _parse_first_seen(value)


class _RefDomainsPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    refdomains: list[_RefDomain]


class _BacklinksPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    backlinks: list[_Backlink]


class _HistoryRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    day: date = Field(alias="date")
    refdomains: float = Field(ge=0, allow_inf_nan=False)


class _HistoryPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    refdomains: list[_HistoryRow]


_HISTORY = TypeAdapter(_HistoryPage)
_REFDOMAINS = TypeAdapter(_RefDomainsPage)
_BACKLINKS = TypeAdapter(_BacklinksPage)


@dataclass(frozen=True)
class _Row:
    """One row reduced to what counting needs: its identity and its first-seen instant."""

    key: str
    first_seen: datetime


@dataclass(frozen=True)
class _Report:
    """How to ask one Ahrefs report for rows first seen in a window."""

    metric: str
    path: str
    field: str  # the date-time column filtered, ordered and counted on
    select: str
    extra: Mapping[str, str]


_REPORTS = (
    _Report(REFERRING_DOMAINS, "/site-explorer/refdomains", "first_seen", "domain,first_seen", {}),
    _Report(
        BACKLINKS,
        "/site-explorer/all-backlinks",
        "first_seen_link",
        "url_from,url_to,first_seen_link,first_seen",
        {"aggregation": "all"},
    ),
)


class AhrefsConnector:
    """Counts referring domains and backlinks of a target by the local day Ahrefs first saw them."""

    type_name: ClassVar[str] = "ahrefs"
    settings_model: ClassVar[type[ConnectorSettings]] = AhrefsSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(REFERRING_DOMAINS, "Referring domains first seen linking to the target", "the target"),
        MetricSpec(BACKLINKS, "Backlinks to the target first seen", "the target"),
        MetricSpec(
            REFERRING_DOMAINS_HELD, "Referring domains linking to the target (a level: kind: stock)", "the target"
        ),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, AhrefsSettings)
        self._settings = settings
        self._source = context.source
        self._levels = context.metrics is not None and REFERRING_DOMAINS_HELD in context.metrics
        self._http = bearer_client(
            context,
            settings,
            default_base_url=DEFAULT_BASE_URL,
            policy=HttpPolicy(rate_limit=RATE_LIMIT),
            headers={"Accept": "application/json"},
        )

    async def check(self) -> None:
        """Read the subscription's limits and usage, a call that costs no API units."""
        await self._http.get_json("/subscription-info/limits-and-usage")

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count new referring domains and backlinks on each local day of `window`."""
        subject = self._settings.target
        counts: Counter[tuple[str, date]] = Counter()
        if window.end > window.start:
            for report in _REPORTS:
                for row in await self._rows(report, window):
                    counts[(report.metric, local_day(row.first_seen, window.timezone))] += 1
        levels = await self._levels_held(window) if self._levels and window.end > window.start else []
        return CollectResult(
            counts=[
                DailyCount(metric=metric, subject=subject, day=day, value=float(value))
                for (metric, day), value in sorted(counts.items())
            ]
            + levels
        )

    async def _levels_held(self, window: SyncWindow) -> list[DailyCount]:
        """Read the net referring-domain count of each day of `window` (the level on that day)."""
        first, last = window.first_day, window.last_day
        params = {
            "target": self._settings.target,
            "mode": self._settings.mode,
            "date_from": first.isoformat(),
            "date_to": last.isoformat(),
            "history_grouping": "daily",
        }
        path = "/site-explorer/refdomains-history"
        payload = await self._http.get_json(path, params=params)
        history = parse_payload(_HISTORY, payload, source=self._source, what=f"GET {path}").refdomains
        return [
            DailyCount(metric=REFERRING_DOMAINS_HELD, subject=self._settings.target, day=row.day, value=row.refdomains)
            for row in history
            if first <= row.day <= last
        ]

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _rows(self, report: _Report, window: SyncWindow) -> list[_Row]:
        """Read every row first seen in `window`, narrowing the `where` window while responses are full."""
        found: dict[str, _Row] = {}
        lower = window.start
        while True:
            page, returned = await self._fetch(report, lower, window.end)
            for row in page:
                if window.contains(row.first_seen):
                    found.setdefault(row.key, row)
            if returned < PAGE_LIMIT:
                return list(found.values())
            latest = max((row.first_seen for row in page), default=lower)
            if latest <= lower:
                # Every row shares the instant we start from: asking again would return the same rows.
                raise SourceResponseError(
                    f"{self._source}: more than {PAGE_LIMIT} rows of {report.path} share the first-seen "
                    f"instant {_iso(lower)}; Ahrefs has no pagination to read past them",
                    source=self._source,
                )
            # `gte` the last instant seen: rows sharing it come back and are recognised by their key.
            lower = latest

    async def _fetch(self, report: _Report, lower: datetime, upper: datetime) -> tuple[list[_Row], int]:
        """Ask for rows first seen in `[lower, upper)`; return them and how many rows came back."""
        where = {
            "and": [
                {"field": report.field, "is": ["gte", _iso(lower)]},
                {"field": report.field, "is": ["lt", _iso(upper)]},
            ]
        }
        params = {
            "target": self._settings.target,
            "mode": self._settings.mode,
            "select": report.select,
            "where": json.dumps(where, separators=(",", ":")),
            "order_by": f"{report.field}:asc",
            "limit": str(PAGE_LIMIT),
            "history": "all_time",
            **report.extra,
        }
        payload = await self._http.get_json(report.path, params=params)
        what = f"GET {report.path}"
        if report.metric == REFERRING_DOMAINS:
            domains = parse_payload(_REFDOMAINS, payload, source=self._source, what=what).refdomains
            rows = [_Row(d.domain.lower(), d.first_seen) for d in domains if d.first_seen is not None]
            return rows, len(domains)
        links = parse_payload(_BACKLINKS, payload, source=self._source, what=what).backlinks
        rows = []
        for link in links:
            seen = link.first_seen_link or link.first_seen
            if seen is not None:
                rows.append(_Row(f"{link.url_from}\n{link.url_to}", seen))
        return rows, len(links)


def _iso(instant: datetime) -> str:
    """Format an instant as Ahrefs writes date-times: UTC, whole seconds unless finer, `Z`."""
    utc = instant.astimezone(UTC)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")
