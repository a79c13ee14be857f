"""http_json: daily counts from any JSON API, described entirely in configuration.

Two ways to count, one per source:
- items: each response holds a list (`items_path`) whose items carry a date (`date_field`, read
  as `date_format`); each item inside the half-open window counts once on its local day, for the
  subject at `subject_path` (default: the `subject` setting, `all`). Pages are followed with
  `pagination`: `none`, `next_link` (a URL at `next_link_path`), `cursor` (a value at
  `cursor_path` sent back as `cursor_param`) or `offset` (`offset_param`/`limit_param`,
  `page_size`; a short page ends it).
- counts: the API answers a ready count (`count_path`); one request is made per local day,
  with `{start}`/`{end}` bounding that day, and the count is the day's value. With `items_path`
  as well, each item holds a count (and maybe a subject) and they are summed per subject.
- a level: the API answers a current level (`level_path`: followers, domains held, a balance)
  for a `kind: stock` KPI. One request per sync, bounded by the window; the level is stored for the
  local day the sync ran, and earlier days keep the levels earlier syncs stored (a level API has
  no history to re-read). With `items_path`, each item holds a level (and maybe a subject).

The `url` (and a POST `body`) may hold placeholders: `{start}`, `{end}` (the request's bounds)
and `{day}` (the local date of `{start}`), optionally with a format: `{start:iso}` (UTC, `Z`),
`{start:iso_local}` (the configured zone's offset), `{start:date}`, `{start:epoch}`,
`{start:epoch_ms}` or a strftime pattern (`{start:%Y/%m/%d}`); a bare `{start}` uses `time_format`.
JSON paths are read by `connectors.jsonpath` (dotted keys, `[n]`, `[*]`), not jsonpath-ng.

Credentials go in a header (`auth_header`, `auth_scheme` + `api_key`); `auth_header: null`
declares an open API that needs no key. Declared `metrics` is empty: the source emits the one
metric named by its `metric` setting.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar, Literal
from urllib.parse import quote, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

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
from connectors.http import HttpPolicy, RateLimit, SourceHttpClient
from connectors.jsonpath import JsonPath, parse_path
from syncd.errors import SourceResponseError

__all__ = ["HttpJsonConnector", "HttpJsonSettings", "RateLimitSetting", "render_template"]

DEFAULT_SUBJECT = "all"
UNKNOWN_SUBJECT = "unknown"
_NAMED_FORMATS = ("iso", "iso_local", "date", "epoch", "epoch_ms")
_PLACEHOLDER = re.compile(r"\{(start|end|day)(?::([^{}]+))?\}")


class RateLimitSetting(BaseModel):
    """At most `requests` requests in any `per_seconds` seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(ge=1)
    per_seconds: float = Field(gt=0)


class HttpJsonSettings(ConnectorSettings):
    """One JSON endpoint, how to page it, and where the dates or counts are."""

    # The key is required unless `auth_header` is null (an open API); checked below.
    requires_api_key: ClassVar[bool] = False

    url: str = Field(description="URL template, e.g. https://api.example.com/v1/calls?since={start}")
    method: Literal["GET", "POST"] = Field(default="GET", description="GET or POST")
    body: JsonValue = Field(default=None, description="POST body template (placeholders in strings)")
    metric: str = Field(min_length=1, description="the metric name this source emits")
    auth_header: str | None = Field(default="Authorization", description="header carrying api_key; null: none")
    auth_scheme: str | None = Field(default="Bearer", description="word before the key; null: the key alone")
    time_format: str = Field(default="iso", description="format of a bare {start}/{end}")
    items_path: str | None = Field(default=None, description="JSON path to the list of items")
    date_field: str | None = Field(default=None, description="JSON path to each item's date")
    date_format: str = Field(default="iso", description="iso | epoch | epoch_ms | a strptime pattern")
    date_timezone: str | None = Field(default=None, description="IANA zone of dates written without one")
    count_path: str | None = Field(default=None, description="JSON path to a ready count (one request a day)")
    level_path: str | None = Field(
        default=None, description="JSON path to a current level, for a kind: stock KPI (stored for today)"
    )
    subject_path: str | None = Field(default=None, description="JSON path to each item's subject")
    subject: str = Field(default=DEFAULT_SUBJECT, description="the subject when subject_path is unset")
    id_path: str | None = Field(default=None, description="JSON path to an item id, to count each once")
    pagination: Literal["none", "next_link", "cursor", "offset"] = Field(
        default="none", description="how the next page is asked for (the *_path/*_param keys below)"
    )
    next_link_path: str | None = Field(default=None, description="next_link: JSON path to the next URL")
    cursor_path: str | None = Field(default=None, description="cursor: JSON path to the next cursor")
    cursor_param: str | None = Field(default=None, description="cursor: parameter the cursor is sent in")
    offset_param: str = Field(default="offset", description="offset: parameter of the offset")
    limit_param: str = Field(default="limit", description="offset: parameter of the page size")
    page_size: int = Field(default=100, ge=1, description="offset: items per page (at most the API's)")
    page_numbers: bool = Field(default=False, description="offset: send page numbers from 1, not offsets")
    rate_limit: RateLimitSetting | None = Field(default=None, description="the API's documented limit")
    max_pages: int = Field(default=1000, ge=1, description="stop with an error after this many pages")

    @model_validator(mode="after")
    def _consistent(self) -> HttpJsonSettings:
        for name in ("items_path", "date_field", "count_path", "level_path", "subject_path", "id_path"):
            _check_path(name, getattr(self, name))
        _check_path("next_link_path", self.next_link_path)
        _check_path("cursor_path", self.cursor_path)
        modes = [name for name in ("date_field", "count_path", "level_path") if getattr(self, name) is not None]
        if len(modes) != 1:
            raise ValueError("set exactly one of date_field (with items_path), count_path or level_path")
        if self.date_field is not None and self.items_path is None:
            raise ValueError("date_field needs items_path (the list whose items carry the date)")
        if self.pagination == "next_link" and not self.next_link_path:
            raise ValueError("pagination next_link needs next_link_path")
        if self.pagination == "cursor" and not (self.cursor_path and self.cursor_param):
            raise ValueError("pagination cursor needs cursor_path and cursor_param")
        if self.pagination == "offset" and self.items_path is None:
            raise ValueError("pagination offset needs items_path (a short page ends the list)")
        _check_time_format(self.time_format)
        for spec in _PLACEHOLDER.finditer(self.url):
            if spec.group(2):
                _check_time_format(spec.group(2))
        if self.date_format not in ("iso", "epoch", "epoch_ms") and "%" not in self.date_format:
            raise ValueError("date_format must be iso, epoch, epoch_ms or a strptime pattern")
        if self.date_timezone is not None:
            try:
                ZoneInfo(self.date_timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown date_timezone {self.date_timezone!r}") from None
        elif "%" in self.date_format and "%z" not in self.date_format:
            raise ValueError("date_format has no %z: set date_timezone to the zone its dates are in")
        if urlsplit(self.url).scheme not in ("http", "https") and not self.base_url:
            raise ValueError("url must start with http:// or https:// (or set base_url for a relative url)")
        if self.auth_header and self.api_key is None:
            raise ValueError("api_key is required (set auth_header: null if the API needs no credential)")
        return self


@dataclass(frozen=True)
class _Bounds:
    start: datetime
    end: datetime
    zone: ZoneInfo


class HttpJsonConnector:
    """Counts items by date, or reads ready daily counts, from a configured JSON API."""

    type_name: ClassVar[str] = "http_json"
    settings_model: ClassVar[type[ConnectorSettings]] = HttpJsonSettings
    # Empty: the metric is whatever the source's `metric` setting names.
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, HttpJsonSettings)
        self._s = settings
        self._source = context.source
        self._clock = context.clock
        self._zone = context.timezone
        self._url = _resolve(settings.url, settings.base_url)
        self._origin = _origin(self._url)
        self._items = _path(settings.items_path)
        self._date = _path(settings.date_field)
        self._count = _path(settings.count_path or settings.level_path)
        self._level = settings.level_path is not None
        self._subject = _path(settings.subject_path)
        self._id = _path(settings.id_path)
        self._date_zone = ZoneInfo(settings.date_timezone) if settings.date_timezone else None
        headers: dict[str, str] = {"Accept": "application/json"}
        secrets: list[str] = []
        if settings.auth_header and settings.api_key is not None:
            key = settings.api_key.get_secret_value()
            value = f"{settings.auth_scheme} {key}" if settings.auth_scheme else key
            headers[settings.auth_header] = value
            secrets += [key, value]
        limit = settings.rate_limit
        self._http = SourceHttpClient(
            context=context,
            base_url=self._origin,
            headers=headers,
            policy=HttpPolicy(rate_limit=RateLimit(limit.requests, limit.per_seconds) if limit else None),
            secrets=secrets,
        )

    async def check(self) -> None:
        """Fetch the first page for today so far: proves the URL, the credential and the shape."""
        now = self._clock.now()
        today = local_day(now, self._zone)
        start = datetime(today.year, today.month, today.day, tzinfo=self._zone)
        async for page in self._pages(_Bounds(start, now, self._zone), max_pages=1):
            self._page_items(page)

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Return the configured metric's counts for each local day of `window`."""
        counts: defaultdict[tuple[str, date], float] = defaultdict(float)
        if self._level:
            return await self._levels(window)
        if window.end > window.start:
            if self._count is not None:
                for bounds in _days(window):
                    day = local_day(bounds.start, window.timezone)
                    async for page in self._pages(bounds):
                        for item in self._page_items(page):
                            counts[(self._subject_of(item), day)] += self._count_of(item)
            else:
                seen: set[str] = set()
                bounds = _Bounds(window.start, window.end, window.timezone)
                async for page in self._pages(bounds):
                    for item in self._page_items(page):
                        if self._id is not None:
                            item_id = self._id.first(item)
                            if item_id is not None:
                                if str(item_id) in seen:
                                    continue
                                seen.add(str(item_id))
                        at = self._date_of(item)
                        if window.contains(at):
                            counts[(self._subject_of(item), local_day(at, window.timezone))] += 1
        return CollectResult(
            counts=[
                DailyCount(metric=self._s.metric, subject=subject, day=day, value=value)
                for (subject, day), value in sorted(counts.items())
            ]
        )

    async def _levels(self, window: SyncWindow) -> CollectResult:
        """Read the current level(s) once and store them for the local day the window ends on."""
        today = window.last_day
        levels: defaultdict[str, float] = defaultdict(float)
        async for page in self._pages(_Bounds(window.start, window.end, window.timezone), max_pages=1):
            for item in self._page_items(page):
                levels[self._subject_of(item)] += self._count_of(item)
        counts = [
            DailyCount(metric=self._s.metric, subject=subject, day=today, value=value)
            for subject, value in sorted(levels.items())
        ]
        # Only today is read: the levels earlier syncs stored for earlier days stay.
        return CollectResult(counts=counts, complete_from=today)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _pages(self, bounds: _Bounds, max_pages: int | None = None) -> AsyncIterator[object]:
        """Yield each decoded page for `bounds`, following the configured pagination to the end."""
        s = self._s
        url = render_template(self._url, bounds, s.time_format, encode=True)
        body = _render_body(s.body, bounds, s.time_format) if s.method == "POST" else None
        extra: dict[str, str | int] = {}
        seen_cursors: set[str] = set()
        limit = max_pages or s.max_pages
        for number in range(limit):
            if s.pagination == "offset":
                offset = number + 1 if s.page_numbers else number * s.page_size
                extra = {s.offset_param: offset, s.limit_param: s.page_size}
            page = await self._request(url, body, extra)
            yield page
            if max_pages is not None and number + 1 >= max_pages:
                return
            following = self._follow(page, url, seen_cursors)
            if following is None:
                return
            url, cursor = following
            if s.pagination == "cursor":
                extra = cursor
        raise SourceResponseError(f"{self._source} still had more pages after {limit}", source=self._source)

    def _follow(self, page: object, url: str, seen: set[str]) -> tuple[str, dict[str, str | int]] | None:
        """Return the next request's URL and extra parameters, or None after the last page."""
        s = self._s
        if s.pagination == "none":
            return None
        if s.pagination == "offset":
            items = self._page_items(page)
            return None if len(items) < s.page_size else (url, {})
        path = self._next_path
        token = path.first(page) if path is not None else None
        if token is None or token == "" or token is False:
            return None
        text = str(token)
        if text in seen:
            raise SourceResponseError(
                f"{self._source} returned a pagination {s.pagination} it had already returned",
                source=self._source,
            )
        seen.add(text)
        if s.pagination == "cursor":
            assert s.cursor_param is not None  # checked by the settings
            return url, {s.cursor_param: text}
        following = urljoin(url, text)
        if _origin(following) != self._origin:
            # Following it would send the credential to another host.
            raise SourceResponseError(
                f"{self._source}: the next link points to another host; refusing to follow it",
                source=self._source,
            )
        return following, {}

    @property
    def _next_path(self) -> JsonPath | None:
        raw = self._s.next_link_path if self._s.pagination == "next_link" else self._s.cursor_path
        return _path(raw)

    async def _request(self, url: str, body: JsonValue, extra: Mapping[str, str | int]) -> object:
        post_extra = self._s.method == "POST" and isinstance(body, dict)
        target = httpx.URL(url)
        if extra and not post_extra:
            # Merged here: httpx's `params=` would replace the query the URL template already has.
            target = target.copy_merge_params(dict(extra))
        relative = target.raw_path.decode("ascii")
        if self._s.method == "GET":
            return await self._http.get_json(relative)
        if isinstance(body, dict) and extra:
            # A POST API pages through its body (like HubSpot's search `after`).
            return await self._http.post_json(relative, json={**body, **extra})
        return await self._http.post_json(relative, json=body)

    def _page_items(self, page: object) -> list[object]:
        if self._items is None:
            return [page]
        found = self._items.find(page)
        if self._items.has_wildcard:
            return found
        if not found:
            return []
        if found[0] is None:
            return []
        if not isinstance(found[0], list):
            raise SourceResponseError(
                f"{self._source}: items_path {self._items} is not a list in the response", source=self._source
            )
        return list(found[0])

    def _subject_of(self, item: object) -> str:
        if self._subject is None:
            return self._s.subject
        value = self._subject.first(item)
        if value is None or isinstance(value, dict | list) or str(value).strip() == "":
            return UNKNOWN_SUBJECT
        return str(value).strip()

    def _count_of(self, item: object) -> float:
        assert self._count is not None
        found = self._count.find(item)
        if not found:
            raise SourceResponseError(f"{self._source}: no count at {self._count} in the response", source=self._source)
        value = found[0]
        if value is None:
            return 0.0
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return number
        raise SourceResponseError(f"{self._source}: the value at {self._count} is not a number", source=self._source)

    def _date_of(self, item: object) -> datetime:
        assert self._date is not None
        value = self._date.first(item)
        try:
            return _parse_date(value, self._s.date_format, self._date_zone)
        except (ValueError, TypeError, OverflowError) as exc:
            raise SourceResponseError(
                f"{self._source}: cannot read the date at {self._date} as {self._s.date_format}: {exc}",
                source=self._source,
            ) from None


def render_template(template: str, bounds: _Bounds, default_format: str, *, encode: bool) -> str:
    """Replace `{start}`, `{end}` and `{day}` (with optional `:format`) in `template`."""

    def replace(match: re.Match[str]) -> str:
        text = _format_value(match.group(1), match.group(2), bounds, default_format)
        return quote(text, safe=":") if encode else text

    return _PLACEHOLDER.sub(replace, template)


def _render_body(body: JsonValue, bounds: _Bounds, default_format: str) -> JsonValue:
    """Render placeholders in a body's strings; a string that is one epoch placeholder becomes a number."""
    if isinstance(body, str):
        whole = _PLACEHOLDER.fullmatch(body)
        if whole and (whole.group(2) or default_format) in ("epoch", "epoch_ms") and whole.group(1) != "day":
            return int(_format_value(whole.group(1), whole.group(2), bounds, default_format))
        return render_template(body, bounds, default_format, encode=False)
    if isinstance(body, list):
        return [_render_body(value, bounds, default_format) for value in body]
    if isinstance(body, dict):
        return {key: _render_body(value, bounds, default_format) for key, value in body.items()}
    return body


def _format_value(name: str, spec: str | None, bounds: _Bounds, default_format: str) -> str:
    if name == "day":
        instant, fmt = bounds.start, spec or "date"
    else:
        instant, fmt = (bounds.start if name == "start" else bounds.end), spec or default_format
    local = instant.astimezone(bounds.zone)
    if fmt == "iso":
        return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if fmt == "iso_local":
        return local.isoformat(timespec="seconds")
    if fmt == "date":
        return local.date().isoformat()
    if fmt in ("epoch", "epoch_ms"):
        scale = 1000 if fmt == "epoch_ms" else 1
        seconds = instant.timestamp() * scale
        # Round outwards so an exclusive end in whole units still covers the window.
        return str(math.floor(seconds) if name == "start" else math.ceil(seconds))
    return local.strftime(fmt)


def _parse_date(value: object, fmt: str, zone: ZoneInfo | None) -> datetime:
    if value is None or isinstance(value, bool | dict | list):
        raise ValueError("no date there")
    if fmt in ("epoch", "epoch_ms"):
        number = float(value) if isinstance(value, int | float | str) else math.nan
        return datetime.fromtimestamp(number / (1000 if fmt == "epoch_ms" else 1), UTC)
    text = str(value)
    parsed = datetime.fromisoformat(text) if fmt == "iso" else datetime.strptime(text, fmt)  # noqa: DTZ007
    if parsed.tzinfo is not None:
        return parsed
    if zone is None:
        raise ValueError(f"{text!r} has no zone; set date_timezone")
    return parsed.replace(tzinfo=zone)


def _days(window: SyncWindow) -> Iterator[_Bounds]:
    """Split `window` at local midnights into one bounds per local day."""
    day = window.first_day
    while day <= window.last_day:
        following = day + timedelta(days=1)
        start = datetime(day.year, day.month, day.day, tzinfo=window.timezone)
        end = datetime(following.year, following.month, following.day, tzinfo=window.timezone)
        yield _Bounds(max(start, window.start), min(end, window.end), window.timezone)
        day = following


def _resolve(url: str, base_url: str | None) -> str:
    """Put `url`'s path and query under `base_url` when one is set."""
    if not base_url:
        return url
    parts = urlsplit(url)
    rest = urlunsplit(("", "", parts.path, parts.query, "")) if parts.scheme else url
    return base_url.rstrip("/") + "/" + rest.lstrip("/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _path(raw: str | None) -> JsonPath | None:
    return parse_path(raw) if raw is not None else None


def _check_path(name: str, raw: str | None) -> None:
    if raw is not None:
        try:
            parse_path(raw)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None


def _check_time_format(fmt: str) -> None:
    if fmt not in _NAMED_FORMATS and "%" not in fmt:
        raise ValueError(f"unknown time format {fmt!r} (use {', '.join(_NAMED_FORMATS)} or a strftime pattern)")
