"""A fake Kit API v4 (`/v4`): subscribers, tag subscribers, account, key auth, 120 per rolling 60 s.

Faithful to what the reference records about Kit v4; where the vendor is silent we choose:
- `created_after` is inclusive and `created_before` exclusive (`[after, before)`), as the docs'
  one-month example `created_after=2025-01-01&created_before=2025-02-01` implies; a bare
  `yyyy-mm-dd` means 00:00 UTC of that day, an ISO datetime without an offset is UTC.
  `tagged_after` / `tagged_before` on the tag endpoint work the same way on `tagged_at`.
- `status` defaults to `active`, as the vendor documents; `all` returns every state.
- results are ordered by ascending id (ids grow with `created_at`); cursors are opaque
  (base64 of a JSON array holding the id at the page edge); `after` and `before` both work.
- `include_total_count=true` adds `pagination.total_count` **(unconfirmed: where the vendor puts it)**.
- the 401 body `{"errors":["The access token is invalid"]}` and other `{"errors":[...]}` bodies
  follow the v4 pattern **(unconfirmed: the v4 shape is not documented)**; bad parameters get 422.
- over the limit: 429 with no `Retry-After` and no rate-limit headers, since the vendor documents
  none (clients are told to back off exponentially).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime

from aiohttp import web

from syncd.clock import Clock
from syncd.sandbox.activity import DEMO_TEAM, ActivitySource, DemoTeam, KitSubscriber

__all__ = ["KIT_RATE_LIMIT", "KIT_RATE_WINDOW_SECONDS", "KitFake", "format_kit_time"]

KIT_RATE_LIMIT = 120
KIT_RATE_WINDOW_SECONDS = 60.0
DEFAULT_PER_PAGE = 500
MAX_PER_PAGE = 1000
_STATES = ("active", "inactive", "bounced", "complained", "cancelled")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def format_kit_time(at: datetime) -> str:
    """Format an instant as Kit does: `2023-01-27T11:43:55Z`."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


class _RollingLimiter:
    """At most `limit` requests per key in any `window` seconds."""

    def __init__(self, clock: Clock, limit: int, window: float) -> None:
        self._clock, self._limit, self._window = clock, limit, window
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self._clock.monotonic()
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self._window:
            seen.popleft()
        if len(seen) >= self._limit:
            return False
        seen.append(now)
        return True


class _Invalid(Exception):
    """A parameter the fake refuses (answered 422)."""


def _errors(status: int, *messages: str) -> web.Response:
    return web.json_response({"errors": list(messages)}, status=status)


class KitFake:
    """The Kit fake: build its aiohttp application with `app()`."""

    def __init__(self, activity: ActivitySource, clock: Clock, api_key: str, team: DemoTeam = DEMO_TEAM) -> None:
        self._activity, self._clock, self._team = activity, clock, team
        self._api_key = api_key
        self._limiter = _RollingLimiter(clock, KIT_RATE_LIMIT, KIT_RATE_WINDOW_SECONDS)

    def app(self) -> web.Application:
        """Return the application serving `/v4/...` and `/_sandbox/health`."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/v4/subscribers", self._subscribers)
        app.router.add_get("/v4/tags/{tag_id}/subscribers", self._tag_subscribers)
        app.router.add_get("/v4/account", self._account)
        app.router.add_get("/_sandbox/health", _health)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/v4/"):
            return await handler(request)
        key = request.headers.get("X-Kit-Api-Key", "")
        if not key or not hmac.compare_digest(key.encode(), self._api_key.encode()):
            return _errors(401, "The access token is invalid")
        if not self._limiter.allow(key):
            return _errors(429, "Rate limit exceeded. Please slow down.")
        try:
            return await handler(request)
        except _Invalid as e:
            return _errors(422, str(e))

    async def _subscribers(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        after, before = (
            _bound(q.get("created_after"), "created_after"),
            _bound(q.get("created_before"), "created_before"),
        )
        states = _states(q.get("status"))
        rows = [
            (s, None)
            for s in self._activity.kit_subscribers(self._clock.now())
            if s.state in states and _within(s.created_at, after, before)
        ]
        return _page(request, rows)

    async def _tag_subscribers(self, request: web.Request) -> web.StreamResponse:
        try:
            tag_id = int(request.match_info["tag_id"])
        except ValueError:
            return _errors(404, "Not Found")
        if tag_id != self._team.kit_tag_id:
            return _errors(404, "Not Found")
        q = request.query
        after, before = (
            _bound(q.get("created_after"), "created_after"),
            _bound(q.get("created_before"), "created_before"),
        )
        tagged_after = _bound(q.get("tagged_after"), "tagged_after")
        tagged_before = _bound(q.get("tagged_before"), "tagged_before")
        states = _states(q.get("status"))
        now = self._clock.now()
        rows: list[tuple[KitSubscriber, datetime | None]] = []
        for s in self._activity.kit_subscribers(now):
            tagged_at = next((t.tagged_at for t in s.tags if t.tag_id == tag_id), None)
            if (
                tagged_at is not None
                and tagged_at <= now
                and s.state in states
                and _within(s.created_at, after, before)
                and _within(tagged_at, tagged_after, tagged_before)
            ):
                rows.append((s, tagged_at))
        return _page(request, rows)

    async def _account(self, request: web.Request) -> web.StreamResponse:
        team = self._team
        return web.json_response(
            {
                "user": {"email": f"maya@{team.name.lower()}.io"},
                "account": {
                    "id": team.kit_account_id,
                    "name": f"{team.name} Newsletter",
                    "plan_type": "creator",
                    "primary_email_address": f"newsletter@{team.name.lower()}.io",
                    "created_at": "2024-01-08T09:00:00Z",
                    "timezone": {"name": "Europe/London", "friendly_name": "London", "utc_offset": "+00:00"},
                },
            }
        )


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def _bound(raw: str | None, name: str) -> datetime | None:
    """Read `yyyy-mm-dd` (00:00 UTC) or an ISO datetime (naive read as UTC)."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), datetime.min.time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise _Invalid(f"{name} is not a valid date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _within(at: datetime, after: datetime | None, before: datetime | None) -> bool:
    return (after is None or at >= after) and (before is None or at < before)


def _states(raw: str | None) -> Sequence[str]:
    if raw is None or raw == "":
        return ("active",)
    if raw == "all":
        return _STATES
    if raw not in _STATES:
        raise _Invalid(f"status must be one of {', '.join((*_STATES, 'all'))}")
    return (raw,)


def _encode_cursor(subscriber_id: int) -> str:
    return base64.b64encode(json.dumps([subscriber_id]).encode()).decode()


def _decode_cursor(raw: str) -> int:
    try:
        value = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        raise _Invalid("cursor is invalid") from None
    if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], int)):
        raise _Invalid("cursor is invalid")
    return value[0]


def _page(request: web.Request, rows: Sequence[tuple[KitSubscriber, datetime | None]]) -> web.Response:
    """Answer one cursor page of `rows` (sorted by id), with `tagged_at` where a row has one."""
    q = request.query
    raw_per_page = q.get("per_page") or str(DEFAULT_PER_PAGE)
    try:
        per_page = int(raw_per_page)
    except ValueError:
        raise _Invalid("per_page must be an integer") from None
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise _Invalid(f"per_page must be between 1 and {MAX_PER_PAGE}")
    if q.get("after"):
        edge = _decode_cursor(q["after"])
        page = [r for r in rows if r[0].id > edge][:per_page]
    elif q.get("before"):
        edge = _decode_cursor(q["before"])
        page = [r for r in rows if r[0].id < edge][-per_page:]
    else:
        page = list(rows[:per_page])
    first_id = page[0][0].id if page else None
    last_id = page[-1][0].id if page else None
    pagination: dict[str, object] = {
        "has_previous_page": first_id is not None and any(r[0].id < first_id for r in rows),
        "has_next_page": last_id is not None and any(r[0].id > last_id for r in rows),
        "start_cursor": _encode_cursor(first_id) if first_id is not None else None,
        "end_cursor": _encode_cursor(last_id) if last_id is not None else None,
        "per_page": per_page,
    }
    if q.get("include_total_count", "").lower() == "true":
        pagination["total_count"] = len(rows)
    return web.json_response({"subscribers": [_subscriber(s, t) for s, t in page], "pagination": pagination})


def _subscriber(s: KitSubscriber, tagged_at: datetime | None) -> dict[str, object]:
    item: dict[str, object] = {
        "id": s.id,
        "first_name": s.first_name,
        "email_address": s.email_address,
        "state": s.state,
        "created_at": format_kit_time(s.created_at),
        "fields": {},
    }
    if tagged_at is not None:
        item["tagged_at"] = format_kit_time(tagged_at)
    return item
