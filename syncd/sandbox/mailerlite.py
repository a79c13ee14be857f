"""A fake MailerLite API (`/api`): subscribers and group subscribers, Bearer auth, 120 per minute.

Faithful to what the reference records about MailerLite; where the vendor is silent we choose:
- there is no date filter: `filter[status]` (active, unsubscribed, unconfirmed, bounced, junk)
  is the only filter, `limit` defaults to 25 and may not exceed 100, and a cursor (base64 of
  `{"id": …, "_pointsToNextItems": true}`, as in the docs' examples) walks the list newest id
  first; `meta.next_cursor` is null on the last page, and `links.next` mirrors it.
- times are written `2021-09-01 14:03:50` in UTC, with no zone.
- a bad token answers 401 `{"message":"Unauthenticated."}`; bad parameters 422
  `{"message": …, "errors": {field: [..]}}`; an unknown group 404 `{"message": "Resource not found."}`.
- 120 requests per token per fixed minute; every answer carries `X-RateLimit-Limit` and
  `X-RateLimit-Remaining`, and a 429 adds `Retry-After` (seconds to the minute's end).

Demo identities (`demo_events`): the account's subscribers join through the lead magnets of
alice (group `DEMO_GROUPS["alice"]`), bob and carol, one group each; the subject is the group id
when a source sets `group_id`, else `all`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "DEMO_GROUPS",
    "MAILERLITE_RATE_LIMIT",
    "MailerliteFake",
    "MailerliteSubscriber",
    "demo_events",
    "expected_counts",
    "format_mailerlite_time",
]

MAILERLITE_RATE_LIMIT = 120
MAILERLITE_RATE_WINDOW_SECONDS = 60.0
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
METRIC = "new_subscribers"
DEMO_GROUPS: Mapping[str, str] = {
    "alice": "114477180917122790",
    "bob": "114477180917122791",
    "carol": "114477180917122792",
}
_STATUSES = ("active", "unsubscribed", "unconfirmed", "bounced", "junk")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def format_mailerlite_time(at: datetime) -> str:
    """Format an instant as MailerLite does: `2021-09-01 14:03:50` (UTC, no zone)."""
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


@dataclass(frozen=True)
class MailerliteSubscriber:
    """One subscriber; `subscribed_at` is None for one imported without an opt-in."""

    id: int
    email: str
    status: str
    created_at: datetime
    subscribed_at: datetime | None
    group_ids: tuple[str, ...] = ()


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class MailerliteFake:
    """The MailerLite fake: build its aiohttp application with `app()`."""

    def __init__(self, events: Sequence[MailerliteSubscriber], clock: Clock, api_key: str) -> None:
        # Newest id first, as the cursor in the vendor's examples walks.
        self._subscribers = sorted(events, key=lambda s: s.id, reverse=True)
        self._clock = clock
        self._api_key = api_key
        self._windows: dict[str, tuple[float, int]] = {}
        self.requests = 0

    def app(self) -> web.Application:
        """Return the application serving `/api/...` and `/_sandbox/health`."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/api/subscribers", self._all)
        app.router.add_get("/api/groups/{group_id}/subscribers", self._group)
        app.router.add_get("/_sandbox/health", _health)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        self.requests += 1
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token or not hmac.compare_digest(token.encode(), self._api_key.encode()):
            return web.json_response({"message": "Unauthenticated."}, status=401)
        now = self._clock.monotonic()
        opened, used = self._windows.get(token, (now, 0))
        if now >= opened + MAILERLITE_RATE_WINDOW_SECONDS:
            opened, used = now, 0
        headers = {"X-RateLimit-Limit": str(MAILERLITE_RATE_LIMIT)}
        if used >= MAILERLITE_RATE_LIMIT:
            headers["X-RateLimit-Remaining"] = "0"
            headers["Retry-After"] = str(max(1, math.ceil(opened + MAILERLITE_RATE_WINDOW_SECONDS - now)))
            return web.json_response({"message": "Too Many Attempts."}, status=429, headers=headers)
        self._windows[token] = (opened, used + 1)
        headers["X-RateLimit-Remaining"] = str(MAILERLITE_RATE_LIMIT - used - 1)
        try:
            response = await handler(request)
        except _Invalid as exc:
            response = web.json_response({"message": str(exc), "errors": {exc.field: [str(exc)]}}, status=422)
        response.headers.update(headers)
        return response

    async def _all(self, request: web.Request) -> web.StreamResponse:
        return self._page(request, self._subscribers)

    async def _group(self, request: web.Request) -> web.StreamResponse:
        group_id = request.match_info["group_id"]
        members = [s for s in self._subscribers if group_id in s.group_ids]
        if not members and group_id not in DEMO_GROUPS.values():
            return web.json_response({"message": "Resource not found."}, status=404)
        return self._page(request, members)

    def _page(self, request: web.Request, rows: Sequence[MailerliteSubscriber]) -> web.Response:
        q = request.query
        status = q.get("filter[status]") or None
        if status is not None and status not in _STATUSES:
            raise _Invalid("filter.status", "The selected filter.status is invalid.")
        try:
            limit = int(q.get("limit") or DEFAULT_LIMIT)
        except ValueError:
            raise _Invalid("limit", "The limit must be an integer.") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise _Invalid("limit", f"The limit must be between 1 and {MAX_LIMIT}.")
        now = self._clock.now()
        visible = [
            s
            for s in rows
            if s.created_at <= now
            and (s.subscribed_at is None or s.subscribed_at <= now)
            and (status is None or s.status == status)
        ]
        if q.get("cursor"):
            edge = _decode_cursor(q["cursor"])
            visible = [s for s in visible if s.id < edge]
        page = visible[:limit]
        more = len(visible) > limit
        next_cursor = _encode_cursor(page[-1].id) if more and page else None
        path = f"{request.url.origin()}{request.path}"
        return web.json_response(
            {
                "data": [_item(s) for s in page],
                "links": {
                    "first": None,
                    "last": None,
                    "prev": None,
                    "next": f"{path}?cursor={next_cursor}" if next_cursor else None,
                },
                "meta": {"path": path, "per_page": limit, "next_cursor": next_cursor, "prev_cursor": None},
            }
        )


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def _encode_cursor(subscriber_id: int) -> str:
    raw = json.dumps({"id": subscriber_id, "_pointsToNextItems": True}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(raw: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return int(value["id"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise _Invalid("cursor", "The cursor is invalid.") from None


def _item(s: MailerliteSubscriber) -> dict[str, object]:
    return {
        "id": str(s.id),
        "email": s.email,
        "status": s.status,
        "source": "api",
        "sent": 0,
        "opens_count": 0,
        "clicks_count": 0,
        "open_rate": 0,
        "click_rate": 0,
        "ip_address": None,
        "subscribed_at": format_mailerlite_time(s.subscribed_at) if s.subscribed_at else None,
        "unsubscribed_at": None,
        "created_at": format_mailerlite_time(s.created_at),
        "updated_at": format_mailerlite_time(s.created_at),
        "fields": {"name": None, "last_name": None},
        "opted_in_at": None,
        "optin_ip": None,
    }


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[MailerliteSubscriber]:
    """Return the demo account's subscribers: a few a day through alice's, bob's and carol's groups."""
    subscribers: list[MailerliteSubscriber] = []
    next_id = 72_582_164_645_938_000
    day = first_day
    while day <= last_day:
        rng = random.Random(f"mailerlite:{seed}:{day.isoformat()}")
        times = sorted(
            datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(seconds=rng.randint(0, 86_399))
            for _ in range(rng.randint(1, 8))
        )
        for at in times:
            next_id += rng.randint(1, 50)
            owner = rng.choice(sorted(DEMO_GROUPS))
            status = rng.choices(_STATUSES, (80, 8, 6, 4, 2))[0]
            subscribed = None if status == "unconfirmed" else at
            subscribers.append(
                MailerliteSubscriber(
                    next_id, f"fan{next_id % 100_000}@example.com", status, at, subscribed, (DEMO_GROUPS[owner],)
                )
            )
        day += timedelta(days=1)
    return subscribers


def expected_counts(
    events: Sequence[MailerliteSubscriber],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    group_id: str | None = None,
) -> dict[tuple[str, str, date], float]:
    """Return the ground truth: active subscribers by the local day they subscribed, in `[start, end)`."""
    counts: Counter[tuple[str, str, date]] = Counter()
    subject = group_id or "all"
    for s in events:
        joined = s.subscribed_at or s.created_at
        if s.status != "active" or not start <= joined < end:
            continue
        if group_id is not None and group_id not in s.group_ids:
            continue
        counts[(METRIC, subject, joined.astimezone(zone).date())] += 1
    return {key: float(value) for key, value in counts.items()}
