"""A fake Ahrefs API v3 (`/v3`): refdomains, all-backlinks, limits-and-usage, Bearer auth, 60 requests a minute.

Faithful to what the reference and Ahrefs' OpenAPI description record; where the vendor is silent we choose:
- no pagination at all: `limit` (default 1000) cuts the ordered rows, and there is no offset or cursor.
- `where` is evaluated: `and` / `or` / `not` / `{"field", "is": [op, value]}` with ops `eq`, `neq`,
  `gt`, `gte`, `lt`, `lte`; date-time values are ISO 8601 (a bare date is 00:00 UTC). An unknown
  field, operator or malformed JSON answers 400. `order_by` is `field[:asc|desc]`.
- `first_seen` is written `2026-03-07T10:22:31Z`. On all-backlinks `first_seen` is when the
  referring *page* was discovered (earlier than the link) and `first_seen_link` the link itself.
- `aggregation` defaults to `similar_links`, which folds backlinks sharing a `similar_group` into
  their earliest row; `all` returns every backlink. `mode` and `history` are accepted and not
  applied: every event is one target's, none is lost.
- errors are `{"error": "<message>"}`; over 60 requests in a rolling minute per key: 429 with no
  `Retry-After` (Ahrefs sends none). Every data response carries `x-api-rows` and
  `x-api-units-cost-total` (max(50, rows) units).

Demo identities: the team's site `acme.io` is the target (the subject of both metrics); alice,
bob and carol each earn links from their own outreach, e.g. guest posts on `blog.<site>.com`.
"""

from __future__ import annotations

import hmac
import json
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "AHREFS_RATE_LIMIT",
    "DEMO_TARGET",
    "AhrefsFake",
    "AhrefsLink",
    "demo_events",
    "expected_counts",
    "format_ahrefs_time",
]

AHREFS_RATE_LIMIT = 60
AHREFS_RATE_WINDOW_SECONDS = 60.0
DEFAULT_LIMIT = 1000
DEMO_TARGET = "acme.io"
_OPS = ("eq", "neq", "gt", "gte", "lt", "lte")

LinkKind = Literal["refdomain", "backlink"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class AhrefsLink:
    """A referring domain or a backlink Ahrefs first saw at `first_seen`."""

    kind: LinkKind
    target: str
    first_seen: datetime
    domain: str  # the referring domain
    url_from: str = ""
    url_to: str = ""
    page_first_seen: datetime | None = None  # backlinks: when the referring page was found
    similar_group: str | None = None  # backlinks folded together by aggregation=similar_links


def format_ahrefs_time(at: datetime) -> str:
    """Format an instant as Ahrefs writes date-times: `2026-03-07T10:22:31Z`."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


class _BadRequest(Exception):
    """A parameter the fake refuses (answered 400 with the message)."""


class AhrefsFake:
    """The Ahrefs fake: build its aiohttp application with `app()`."""

    def __init__(self, events: Sequence[AhrefsLink], clock: Clock, api_key: str) -> None:
        self._events, self._clock, self._api_key = list(events), clock, api_key
        self._sent: dict[str, deque[float]] = {}

    def app(self) -> web.Application:
        """Return the application serving `/v3/...`."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/v3/site-explorer/refdomains", self._refdomains)
        app.router.add_get("/v3/site-explorer/all-backlinks", self._backlinks)
        app.router.add_get("/v3/site-explorer/refdomains-history", self._refdomains_history)
        app.router.add_get("/v3/subscription-info/limits-and-usage", self._limits)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not key or not hmac.compare_digest(key.encode(), self._api_key.encode()):
            return web.json_response({"error": "Invalid API key"}, status=401)
        if not self._allow(key):
            return web.json_response({"error": "Too many requests"}, status=429)
        try:
            return await handler(request)
        except _BadRequest as e:
            return web.json_response({"error": str(e)}, status=400)

    def _allow(self, key: str) -> bool:
        now = self._clock.monotonic()
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - AHREFS_RATE_WINDOW_SECONDS:
            sent.popleft()
        if len(sent) >= AHREFS_RATE_LIMIT:
            return False
        sent.append(now)
        return True

    async def _limits(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "limits_and_usage": {
                    "subscription": "Enterprise",
                    "usage_reset_date": "2026-12-01",
                    "units_limit_workspace": 1_000_000,
                    "units_usage_workspace": 1250,
                    "units_limit_api_key": None,
                    "units_usage_api_key": 1250,
                    "api_key_expiration_date": "2027-06-01T00:00:00Z",
                }
            }
        )

    async def _refdomains(self, request: web.Request) -> web.StreamResponse:
        rows = [
            {"domain": e.domain, "first_seen": e.first_seen, "domain_rating": 40.0}
            for e in self._served("refdomain", request)
        ]
        return self._answer(request, "refdomains", rows, {"domain", "first_seen", "domain_rating"})

    async def _refdomains_history(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        target = q.get("target", "").strip().lower()
        if not target:
            raise _BadRequest("target is required")
        try:
            first, last = date.fromisoformat(q["date_from"]), date.fromisoformat(q.get("date_to", q["date_from"]))
        except (KeyError, ValueError):
            raise _BadRequest("date_from and date_to must be YYYY-MM-DD") from None
        if q.get("history_grouping", "monthly") != "daily":
            raise _BadRequest("the fake serves history_grouping=daily only")
        today = self._clock.now().astimezone(UTC).date()
        rows = [
            {"date": day.isoformat(), "refdomains": held}
            for day, held in referring_domains_held(self._events, target, first, min(last, today)).items()
        ]
        return web.json_response({"refdomains": rows})

    async def _backlinks(self, request: web.Request) -> web.StreamResponse:
        links = self._served("backlink", request)
        aggregation = request.query.get("aggregation", "similar_links")
        if aggregation not in ("similar_links", "1_per_domain", "all"):
            raise _BadRequest("aggregation must be similar_links, 1_per_domain or all")
        if aggregation != "all":
            links = _fold(links, by_domain=aggregation == "1_per_domain")
        rows = [
            {
                "url_from": e.url_from,
                "url_to": e.url_to,
                "first_seen": e.page_first_seen or e.first_seen,
                "first_seen_link": e.first_seen,
                "name_source": e.domain,
            }
            for e in links
        ]
        return self._answer(
            request, "backlinks", rows, {"url_from", "url_to", "first_seen", "first_seen_link", "name_source"}
        )

    def _served(self, kind: LinkKind, request: web.Request) -> list[AhrefsLink]:
        q = request.query
        if not q.get("target"):
            raise _BadRequest("target is required")
        if not q.get("select"):
            raise _BadRequest("select is required")
        if q.get("mode", "subdomains") not in ("exact", "prefix", "domain", "subdomains"):
            raise _BadRequest("mode must be exact, prefix, domain or subdomains")
        target = q["target"].strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
        now = self._clock.now()
        return [e for e in self._events if e.kind == kind and e.target == target and e.first_seen <= now]

    def _answer(
        self, request: web.Request, key: str, rows: list[dict[str, object]], columns: set[str]
    ) -> web.StreamResponse:
        q = request.query
        select = [c.strip() for c in q["select"].split(",") if c.strip()]
        unknown = [c for c in select if c not in columns]
        if unknown:
            raise _BadRequest(f"unknown column in select: {unknown[0]}")
        if q.get("where"):
            condition = _parse_where(q["where"])
            rows = [r for r in rows if _matches(condition, r, columns)]
        rows = _ordered(rows, q.get("order_by"), columns)
        rows = rows[: _limit(q.get("limit"))]
        body = [{c: _json_value(r.get(c)) for c in select} for r in rows]
        headers = {"x-api-rows": str(len(body)), "x-api-units-cost-total": str(max(50, len(body)))}
        return web.json_response({key: body}, headers=headers)


def _fold(links: list[AhrefsLink], *, by_domain: bool) -> list[AhrefsLink]:
    """Keep the earliest link of each similar group (or of each referring domain)."""
    kept: dict[str, AhrefsLink] = {}
    for link in sorted(links, key=lambda e: e.first_seen):
        group = link.domain if by_domain else (link.similar_group or f"{link.url_from}\n{link.url_to}")
        kept.setdefault(group, link)
    return list(kept.values())


def _limit(raw: str | None) -> int:
    try:
        value = int(raw) if raw else DEFAULT_LIMIT
    except ValueError:
        raise _BadRequest("limit must be an integer") from None
    if value < 1:
        raise _BadRequest("limit must be positive")
    return value


def _parse_where(raw: str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        raise _BadRequest("where is not valid JSON") from None


def _matches(condition: object, row: dict[str, object], columns: set[str]) -> bool:
    if not isinstance(condition, dict):
        raise _BadRequest("where: a filter must be an object")
    if "and" in condition or "or" in condition:
        parts = condition.get("and", condition.get("or"))
        if not isinstance(parts, list) or not parts:
            raise _BadRequest("where: and/or take a non-empty array")
        results = [_matches(p, row, columns) for p in parts]
        return all(results) if "and" in condition else any(results)
    if "not" in condition:
        return not _matches(condition["not"], row, columns)
    field, test = condition.get("field"), condition.get("is")
    if not isinstance(field, str) or field not in columns:
        raise _BadRequest(f"where: unknown field {field!r}")
    if not (isinstance(test, list) and len(test) == 2 and test[0] in _OPS):
        raise _BadRequest(f"where: `is` must be [op, value] with op one of {', '.join(_OPS)}")
    op, expected = test
    actual = row.get(field)
    if isinstance(actual, datetime):
        other: object = _instant(expected)
    else:
        other = expected
    return _compare(op, actual, other)


def _compare(op: str, actual: object, other: object) -> bool:
    if op == "eq":
        return actual == other
    if op == "neq":
        return actual != other
    if not isinstance(actual, datetime | int | float | str) or type(actual) is not type(other):
        raise _BadRequest("where: value does not match the field's type")
    a, b = actual, other
    if op == "gt":
        return a > b  # type: ignore[operator]
    if op == "gte":
        return a >= b  # type: ignore[operator]
    if op == "lt":
        return a < b  # type: ignore[operator]
    return a <= b  # type: ignore[operator]


def _instant(value: object) -> datetime:
    if not isinstance(value, str):
        raise _BadRequest("where: a date-time value must be a string")
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _BadRequest(f"where: {text!r} is not a date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ordered(rows: list[dict[str, object]], order_by: str | None, columns: set[str]) -> list[dict[str, object]]:
    if not order_by:
        return rows
    for part in reversed(order_by.split(",")):
        field, _, direction = part.strip().partition(":")
        if field not in columns or direction not in ("", "asc", "desc"):
            raise _BadRequest(f"order_by: cannot order by {part!r}")
        rows = sorted(rows, key=lambda r: _sort_key(r.get(field)), reverse=direction == "desc")
    return rows


def _sort_key(value: object) -> str:
    return format_ahrefs_time(value) if isinstance(value, datetime) else str(value)


def _json_value(value: object) -> object:
    return format_ahrefs_time(value) if isinstance(value, datetime) else value


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[AhrefsLink]:
    """Return the demo team's links to acme.io: a few new domains and more backlinks a day."""
    events: list[AhrefsLink] = []
    day = first_day
    serial = 0
    while day <= last_day:
        rng = random.Random(f"ahrefs:{seed}:{day.isoformat()}")
        for person in ("alice", "bob", "carol"):
            for _ in range(rng.randint(0, 2)):
                serial += 1
                seen = datetime.combine(day, time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)), zone)
                site = f"{person}-partner{serial}.com"
                events.append(AhrefsLink("refdomain", DEMO_TARGET, seen, site))
                pages = rng.randint(1, 3)
                for n in range(pages):
                    events.append(
                        AhrefsLink(
                            "backlink",
                            DEMO_TARGET,
                            seen + timedelta(minutes=n),
                            site,
                            url_from=f"https://blog.{site}/post-{n}",
                            url_to=f"https://{DEMO_TARGET}/",
                            page_first_seen=seen - timedelta(days=3),
                            # syndicated copies of one post are "similar links"
                            similar_group=f"{site}:syndicated" if n else None,
                        )
                    )
        day += timedelta(days=1)
    return events


# Domains already linking before the fake's history starts, so the level is not its first days' count.
HELD_BEFORE_HISTORY = 1000


def referring_domains_held(events: Sequence[AhrefsLink], target: str, first: date, last: date) -> dict[date, int]:
    """Return the ground truth level: referring domains linking to `target` at the end of each UTC day."""
    seen = sorted(e.first_seen.astimezone(UTC).date() for e in events if e.kind == "refdomain" and e.target == target)
    held: dict[date, int] = {}
    day = first
    while day <= last:
        held[day] = HELD_BEFORE_HISTORY + sum(1 for d in seen if d <= day)
        day += timedelta(days=1)
    return held


def expected_counts(
    events: Sequence[AhrefsLink], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """Return the ground truth: new referring domains and backlinks per (metric, target, local day)."""
    metric = {"refdomain": "new_referring_domains", "backlink": "new_backlinks"}
    counts: dict[tuple[str, str, date], float] = {}
    for e in events:
        if start <= e.first_seen < end:
            key = (metric[e.kind], e.target, e.first_seen.astimezone(zone).date())
            counts[key] = counts.get(key, 0.0) + 1.0
    return counts
