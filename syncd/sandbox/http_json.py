"""A small generic JSON API (`/v1`) for the http_json connector: a team's calls, two ways.

- `GET /v1/calls?since=<ISO>&until=<ISO>&limit=<n ≤ 100>&cursor=<c>` answers
  `{"data": [{"id", "created_at": "2026-03-07T14:03:50Z", "owner": {"email"}, "duration_s"}],
  "meta": {"next_cursor": "…" | null}}`; `since` is inclusive, `until` exclusive, oldest first.
- `GET /v1/calls/count?from=<epoch s>&to=<epoch s>[&owner=<email>]` answers `{"count": n}`
  for `[from, to)`.
- Auth: `Authorization: Bearer <key>` or `X-Api-Key: <key>`; otherwise 401 `{"error": "invalid_token"}`; a bad
  parameter 400 `{"error": "…"}`.
- 10 requests per key per fixed second; a 429 carries `Retry-After: 1`, and every answer
  `X-RateLimit-Remaining`.

Demo identities (`demo_events`): alice (alice@acme.io) and bob (bob@acme.io) hold the calls
their outreach replies book, carol (carol@acme.io) recruiting calls; the subject is the owner's
email (`subject_path: owner.email`), and the ground truth's metric is `calls_held`.
"""

from __future__ import annotations

import hmac
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock
from syncd.sandbox.activity import DEMO_TEAM, GeneratedActivity

__all__ = ["DEMO_OWNERS", "HTTP_JSON_RATE_LIMIT", "Call", "HttpJsonFake", "demo_events", "expected_counts"]

HTTP_JSON_RATE_LIMIT = 10  # per second
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
METRIC = "calls_held"
DEMO_OWNERS = ("alice@acme.io", "bob@acme.io", "carol@acme.io")
RECRUITER = "carol@acme.io"
# The share of a sender's replies that book a call. alice gets few replies but books most of them;
# bob's emails get twice her replies, fewer of which turn into calls: each is a stage's best.
BOOKING_RATES = {"alice@acme.io": 0.45, "bob@acme.io": 0.28}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Call:
    """One call held by `owner` at `created_at`."""

    id: int
    owner: str
    created_at: datetime
    duration_s: int = 900


class _Invalid(Exception):
    """A parameter the fake refuses (answered 400)."""


class HttpJsonFake:
    """The generic calls API: build its aiohttp application with `app()`."""

    def __init__(self, events: Sequence[Call], clock: Clock, api_key: str) -> None:
        self._calls = sorted(events, key=lambda c: (c.created_at, c.id))
        self._clock = clock
        self._api_key = api_key
        self._second: tuple[int, int] = (-1, 0)
        self.requests = 0

    def app(self) -> web.Application:
        """Return the application serving `/v1/calls`, `/v1/calls/count` and `/_sandbox/health`."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/v1/calls", self._list)
        app.router.add_get("/v1/calls/count", self._count)
        app.router.add_get("/_sandbox/health", _health)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):
            return await handler(request)
        self.requests += 1
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("X-Api-Key", "")
        if not token or not hmac.compare_digest(token.encode(), self._api_key.encode()):
            return web.json_response({"error": "invalid_token"}, status=401)
        second = int(self._clock.monotonic())
        current, used = self._second if self._second[0] == second else (second, 0)
        if used >= HTTP_JSON_RATE_LIMIT:
            headers = {"Retry-After": "1", "X-RateLimit-Remaining": "0"}
            return web.json_response({"error": "rate_limited"}, status=429, headers=headers)
        self._second = (current, used + 1)
        try:
            response = await handler(request)
        except _Invalid as exc:
            response = web.json_response({"error": str(exc)}, status=400)
        response.headers["X-RateLimit-Remaining"] = str(HTTP_JSON_RATE_LIMIT - used - 1)
        return response

    def _visible(self) -> list[Call]:
        now = self._clock.now()
        return [c for c in self._calls if c.created_at <= now]

    async def _list(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        since, until = _iso(q.get("since"), "since"), _iso(q.get("until"), "until")
        limit = _int(q.get("limit"), "limit", DEFAULT_LIMIT)
        if not 1 <= limit <= MAX_LIMIT:
            raise _Invalid(f"limit must be between 1 and {MAX_LIMIT}")
        after = _int(q.get("cursor"), "cursor", -1)
        rows = [
            c
            for c in self._visible()
            if (since is None or c.created_at >= since) and (until is None or c.created_at < until)
        ]
        if after >= 0:
            rows = rows[after:]
            offset = after
        else:
            offset = 0
        page = rows[:limit]
        next_cursor = str(offset + limit) if len(rows) > limit else None
        return web.json_response({"data": [_item(c) for c in page], "meta": {"next_cursor": next_cursor}})

    async def _count(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        start = _int(q.get("from"), "from", None)
        end = _int(q.get("to"), "to", None)
        owner = q.get("owner")
        count = sum(
            1
            for c in self._visible()
            if start <= c.created_at.timestamp() < end and (owner is None or c.owner == owner)
        )
        return web.json_response({"count": count})


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def _iso(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise _Invalid(f"{name} must be an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise _Invalid(f"{name} must carry a zone")
    return parsed


def _int(raw: str | None, name: str, default: int | None) -> int:
    if raw is None or raw == "":
        if default is None:
            raise _Invalid(f"{name} is required")
        return default
    try:
        return int(raw)
    except ValueError:
        raise _Invalid(f"{name} must be an integer") from None


def _item(c: Call) -> dict[str, object]:
    return {
        "id": c.id,
        "created_at": f"{c.created_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z",
        "owner": {"email": c.owner},
        "duration_s": c.duration_s,
    }


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[Call]:
    """Return the demo team's calls, mostly in office hours, some late.

    The growth team's calls are booked by replies to their outreach (the lemlist fake's, same seed
    and days): a reply books at most one call, so the funnel's replies→calls stage converts below
    100%, as a real one does. carol's recruiting calls come from elsewhere: a few a working day.
    """
    held: list[tuple[str, datetime, int]] = []
    until = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=zone)
    booked = dict.fromkeys(BOOKING_RATES, 0.0)
    for reply in GeneratedActivity(seed, first_day, zone, DEMO_TEAM).lemlist_activities(until):
        owner = reply.send_user_email
        if reply.type != "emailsReplied" or owner not in booked:
            continue
        # Every reply adds its share of a call; a whole one books it. So a sender's conversion holds
        # near its rate in any stretch of days, and the funnel's story does not turn on a lucky draw.
        before = booked[owner]
        booked[owner] = before + BOOKING_RATES[owner]
        if int(booked[owner]) > int(before):
            rng = random.Random(f"http_json:{seed}:{reply.id}")
            day = _working_days_after(reply.created_at.astimezone(zone).date(), rng.randint(1, 3))
            if day <= last_day:
                held.append((owner, _call_time(rng, day, zone), rng.randint(300, 3600)))
    day = first_day
    while day <= last_day:
        rng = random.Random(f"http_json:{seed}:{day.isoformat()}")
        if day.weekday() < 5:
            for _ in range(rng.randint(0, 4)):
                held.append((RECRUITER, _call_time(rng, day, zone), rng.randint(300, 3600)))
        day += timedelta(days=1)
    held.sort(key=lambda call: (call[1], call[0]))
    return [Call(n, owner, at, duration) for n, (owner, at, duration) in enumerate(held, start=1)]


def _call_time(rng: random.Random, day: date, zone: ZoneInfo) -> datetime:
    hour = rng.choice((9, 10, 11, 14, 15, 16, 23))
    return datetime(day.year, day.month, day.day, hour, rng.randint(0, 59), tzinfo=zone)


def _working_days_after(day: date, count: int) -> date:
    while count:
        day += timedelta(days=1)
        count -= day.weekday() < 5
    return day


def expected_counts(
    events: Sequence[Call], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """Return the ground truth: calls per owner and local day in `[start, end)`."""
    counts: Counter[tuple[str, str, date]] = Counter()
    for c in events:
        if start <= c.created_at < end:
            counts[(METRIC, c.owner, c.created_at.astimezone(zone).date())] += 1
    return {key: float(value) for key, value in counts.items()}
