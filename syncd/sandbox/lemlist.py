"""A fake lemlist API (`/api`): activities, team, key auth and the 20-per-2-s rate limit.

Faithful to what the reference records about lemlist; where the vendor is silent we choose:
- `minDate` is inclusive and `maxDate` exclusive (`[minDate, maxDate)`), chosen so windows chain
  without overlap; the vendor only says maxDate must be greater than minDate **(unconfirmed)**.
- error bodies are `{"error": "..."}` **(unconfirmed: the vendor's shape is not documented)**.
- the rate limit is a fixed 2 s window per presented key, opened by its first request, and every
  `/api` response (401 and 400 included) carries the `X-RateLimit-*` headers.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from syncd.clock import Clock
from syncd.sandbox.activity import DEMO_TEAM, ActivitySource, DemoTeam, LemlistActivity

__all__ = [
    "LEMLIST_RATE_LIMIT",
    "LEMLIST_RATE_WINDOW_SECONDS",
    "LemlistFake",
    "format_js_date",
    "format_lemlist_time",
]

LEMLIST_RATE_LIMIT = 20
LEMLIST_RATE_WINDOW_SECONDS = 2.0
MAX_LIMIT = 100
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def format_js_date(at: datetime) -> str:
    """Format an instant as JavaScript's `Date.toString()` does in UTC, as lemlist's reset header is."""
    at = at.astimezone(UTC)
    # Spelled out rather than strftime("%a %b"), which follows the process locale.
    return (
        f"{_DAYS[at.weekday()]} {_MONTHS[at.month - 1]} {at.day:02d} {at.year} "
        f"{at:%H:%M:%S} GMT+0000 (Coordinated Universal Time)"
    )


def format_lemlist_time(at: datetime) -> str:
    """Format an instant as lemlist's `createdAt`: `2025-10-28T08:07:38.375Z`."""
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


@dataclass
class _Window:
    opened: float
    used: int


@dataclass(frozen=True)
class _Budget:
    allowed: bool
    remaining: int
    reset_in: float


class _FixedWindowLimiter:
    """`limit` requests per `window` seconds per key, the window opened by its first request."""

    def __init__(self, clock: Clock, limit: int, window: float) -> None:
        self._clock, self._limit, self._window = clock, limit, window
        self._windows: dict[str, _Window] = {}

    def spend(self, key: str) -> _Budget:
        now = self._clock.monotonic()
        w = self._windows.get(key)
        if w is None or now >= w.opened + self._window:
            w = self._windows[key] = _Window(now, 0)
        reset_in = w.opened + self._window - now
        if w.used >= self._limit:
            return _Budget(False, 0, reset_in)
        w.used += 1
        return _Budget(True, self._limit - w.used, reset_in)


class _BadRequest(Exception):
    """A query parameter the fake refuses, with the message it answers."""


class LemlistFake:
    """The lemlist fake: build its aiohttp application with `app()`."""

    def __init__(self, activity: ActivitySource, clock: Clock, api_key: str, team: DemoTeam = DEMO_TEAM) -> None:
        self._activity, self._clock, self._team = activity, clock, team
        self._api_key = api_key
        self._limiter = _FixedWindowLimiter(clock, LEMLIST_RATE_LIMIT, LEMLIST_RATE_WINDOW_SECONDS)

    def app(self) -> web.Application:
        """Return the application serving `/api/...` and `/_sandbox/health`."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/api/activities", self._activities)
        app.router.add_get("/api/team", self._team_info)
        app.router.add_get("/_sandbox/health", _health)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        presented = _presented_key(request)
        budget = self._limiter.spend(presented or "")
        reset_at = self._clock.now() + timedelta(seconds=budget.reset_in)
        headers = {
            "X-RateLimit-Limit": str(LEMLIST_RATE_LIMIT),
            "X-RateLimit-Remaining": str(budget.remaining),
            "X-RateLimit-Reset": format_js_date(reset_at),
        }
        response: web.StreamResponse
        if not budget.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(budget.reset_in)))
            response = web.json_response({"error": "Too many requests"}, status=429)
        elif presented is None or not hmac.compare_digest(presented.encode(), self._api_key.encode()):
            response = web.json_response({"error": "Unauthorized: invalid API key"}, status=401)
        else:
            try:
                response = await handler(request)
            except _BadRequest as e:
                response = web.json_response({"error": str(e)}, status=400)
        response.headers.update(headers)
        return response

    async def _activities(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        min_date = _parse_date(q.get("minDate") or q.get("startDate"), "minDate")
        max_date = _parse_date(q.get("maxDate") or q.get("endDate"), "maxDate")
        if min_date is not None and max_date is not None and max_date <= min_date:
            raise _BadRequest("maxDate must be greater than minDate")
        limit = _parse_int(q.get("limit"), "limit", default=MAX_LIMIT)
        if not 1 <= limit <= MAX_LIMIT:
            raise _BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
        offset = _parse_int(q.get("offset"), "offset", default=0)
        if offset < 0:
            raise _BadRequest("offset must be 0 or more")
        kind, campaign = q.get("type"), q.get("campaignId")
        items = [
            a
            for a in self._activity.lemlist_activities(self._clock.now())
            if (kind is None or a.type == kind)
            and (campaign is None or a.campaign_id == campaign)
            and (min_date is None or a.created_at >= min_date)
            and (max_date is None or a.created_at < max_date)
        ]
        return web.json_response([_item(a) for a in items[offset : offset + limit]])

    async def _team_info(self, request: web.Request) -> web.StreamResponse:
        team = self._team
        return web.json_response(
            {
                "_id": team.team_id,
                "name": team.name,
                "userIds": [s.user_id for s in team.senders],
                "createdAt": "2024-01-08T09:00:00.000Z",
            }
        )


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def _presented_key(request: web.Request) -> str | None:
    """Return the key the request carries, from Basic auth (`:KEY`) or `?access_token=`."""
    auth = request.headers.get("Authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password if sep else None
    return request.query.get("access_token")


def _parse_date(raw: str | None, name: str) -> datetime | None:
    """Read unix seconds or ISO 8601 (a naive one read as UTC)."""
    if raw is None or raw == "":
        return None
    try:
        if raw.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(raw), UTC)
        parsed = datetime.fromisoformat(raw)
    except (ValueError, OverflowError, OSError):
        raise _BadRequest(f"{name} must be unix seconds or an ISO 8601 date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_int(raw: str | None, name: str, *, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer") from None


def _item(a: LemlistActivity) -> dict[str, object]:
    item: dict[str, object] = {
        "_id": a.id,
        "type": a.type,
        "createdAt": format_lemlist_time(a.created_at),
        "campaignId": a.campaign_id,
        "leadId": a.lead_id,
        "leadEmail": a.lead_email,
        "sendUserId": a.send_user_id,
        "sendUserEmail": a.send_user_email,
        "sendUserMailboxId": a.send_user_mailbox_id,
        "isFirst": a.is_first,
    }
    if a.related_sent_at is not None:
        item["relatedSentAt"] = format_lemlist_time(a.related_sent_at)
    return item
