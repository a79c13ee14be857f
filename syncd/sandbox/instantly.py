"""A fake Instantly API v2 (`/api/v2`): accounts, campaigns, daily account analytics, limits.

Faithful to what the reference and Instantly's v2 OpenAPI record; where the vendor is silent we
choose (marked **(unconfirmed)**):
- Bearer auth; 401/400/404/429 bodies are `{statusCode, error, message}` (400s on the analytics
  endpoint are `{message}` as documented).
- `GET /accounts`: `limit` 1..100 (default 10), accounts ordered by email, `starting_after` is the
  last email of the previous page and `next_starting_after` is only sent while more remain
  **(unconfirmed: the real cursor is `timestamp_created&email`)**.
- `GET /accounts/analytics/daily`: `emails` is required (repeat the parameter or separate with
  commas; at most 200), dates are UTC days (`YYYY-MM-DD` or ISO; date-only means UTC midnight),
  `end_date` is inclusive **(unconfirmed)**, the range is at most 31 days, one row per account
  and UTC date with activity.
- One budget per key: 100 requests per rolling second and 6,000 per rolling minute; over it,
  429 with no wait header (the vendor documents none).

Demo identities: alice@acme.io, bob@acme.io and carol@acme.io send from their own accounts in
two campaigns (`DEMO_CAMPAIGNS`).
"""

from __future__ import annotations

import hmac
import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "DEMO_CAMPAIGNS",
    "INSTANTLY_RATE_LIMITS",
    "InstantlyEvent",
    "InstantlyFake",
    "demo_events",
    "expected_counts",
]

InstantlyKind = Literal["sent", "reply"]
# (requests, seconds) windows of the workspace budget
INSTANTLY_RATE_LIMITS: tuple[tuple[int, float], ...] = ((100, 1.0), (6000, 60.0))
DEMO_CAMPAIGNS = ("0199a1b2-0000-7000-8000-00000000c0a1", "0199a1b2-0000-7000-8000-00000000c0a2")
MAX_ACCOUNTS_LIMIT = 100
MAX_EMAILS = 200
MAX_RANGE_DAYS = 31
_PREFIX = "/api/v2"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class InstantlyEvent:
    """One email sent from, or one reply received by, a sending account."""

    kind: InstantlyKind
    account: str
    at: datetime
    campaign_id: str = DEMO_CAMPAIGNS[0]


class _Invalid(Exception):
    """A request the fake refuses with 400 and this message."""


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"statusCode": status, "error": error, "message": message}, status=status)


class _RollingLimiter:
    """Several (requests, seconds) budgets per key, each over a rolling window."""

    def __init__(self, clock: Clock, limits: Sequence[tuple[int, float]]) -> None:
        self._clock, self._limits = clock, tuple(limits)
        self._sent: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self._clock.monotonic()
        sent = self._sent.setdefault(key, deque())
        longest = max(seconds for _, seconds in self._limits)
        while sent and sent[0] <= now - longest:
            sent.popleft()
        for requests, seconds in self._limits:
            if sum(1 for t in sent if t > now - seconds) >= requests:
                return False
        sent.append(now)
        return True


class InstantlyFake:
    """The Instantly fake: build its aiohttp application with `app()`."""

    def __init__(
        self,
        events: Sequence[InstantlyEvent],
        clock: Clock,
        api_key: str,
        accounts: Sequence[str] = (),
    ) -> None:
        self._events = sorted(events, key=lambda e: e.at)
        self._clock = clock
        self._api_key = api_key
        self._accounts = sorted({a.lower() for a in accounts} | {e.account.lower() for e in events})
        self._limiter = _RollingLimiter(clock, INSTANTLY_RATE_LIMITS)

    def app(self) -> web.Application:
        """Return the application serving `/api/v2/...`."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get(f"{_PREFIX}/accounts", self._list_accounts)
        app.router.add_get(f"{_PREFIX}/accounts/analytics/daily", self._daily)
        app.router.add_get(f"{_PREFIX}/campaigns/{{campaign_id}}", self._campaign)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        presented = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not self._limiter.allow(presented):
            return _error(429, "Too Many Requests", "Rate limit exceeded")
        if not presented:
            return _error(401, "Unauthorized", "Missing Authorization header")
        if not hmac.compare_digest(presented.encode(), self._api_key.encode()):
            return _error(401, "Unauthorized", "Invalid API key")
        try:
            return await handler(request)
        except _Invalid as exc:
            return web.json_response({"message": str(exc)}, status=400)

    def _served(self) -> list[InstantlyEvent]:
        now = self._clock.now()
        return [e for e in self._events if e.at <= now]

    async def _list_accounts(self, request: web.Request) -> web.StreamResponse:
        limit = _int(request.query.get("limit"), "limit", default=10)
        if not 1 <= limit <= MAX_ACCOUNTS_LIMIT:
            raise _Invalid(f"querystring/limit must be <= {MAX_ACCOUNTS_LIMIT}")
        after = request.query.get("starting_after")
        remaining = [a for a in self._accounts if after is None or a > after.lower()]
        page = remaining[:limit]
        body: dict[str, object] = {
            "items": [{"email": a, "status": 1, "timestamp_created": "2025-06-02T09:00:00.000Z"} for a in page]
        }
        if len(remaining) > limit:
            body["next_starting_after"] = page[-1]
        return web.json_response(body)

    async def _campaign(self, request: web.Request) -> web.StreamResponse:
        campaign_id = request.match_info["campaign_id"]
        used = sorted({e.account.lower() for e in self._events if e.campaign_id == campaign_id})
        if campaign_id not in DEMO_CAMPAIGNS and not used:
            return _error(404, "Not Found", "Campaign not found")
        return web.json_response({"id": campaign_id, "name": f"Campaign {campaign_id[-2:]}", "email_list": used})

    async def _daily(self, request: web.Request) -> web.StreamResponse:
        emails = {e.strip().lower() for raw in request.query.getall("emails", []) for e in raw.split(",") if e.strip()}
        if not emails:
            raise _Invalid("querystring must have required property 'emails'")
        if len(emails) > MAX_EMAILS:
            raise _Invalid(f"querystring/emails must NOT have more than {MAX_EMAILS} items")
        today = self._clock.now().astimezone(UTC).date()
        end = _utc_date(request.query.get("end_date"), "end_date") or today
        start = _utc_date(request.query.get("start_date"), "start_date") or end - timedelta(days=30)
        if end < start:
            raise _Invalid("Start Date must be earlier than End Date")
        if (end - start).days > MAX_RANGE_DAYS:
            raise _Invalid(f"The maximum range is {MAX_RANGE_DAYS} days")
        sent: Counter[tuple[date, str]] = Counter()
        replies: Counter[tuple[date, str]] = Counter()
        for event in self._served():
            day, account = event.at.astimezone(UTC).date(), event.account.lower()
            if account in emails and start <= day <= end:
                (sent if event.kind == "sent" else replies)[(day, account)] += 1
        rows = [
            _row(day, account, sent[(day, account)], replies[(day, account)])
            for day, account in sorted(set(sent) | set(replies))
        ]
        return web.json_response(rows)


def _row(day: date, account: str, sent: int, replies: int) -> dict[str, object]:
    return {
        "date": day.isoformat(),
        "email_account": account,
        "sent": sent,
        "bounced": 0,
        "contacted": sent,
        "new_leads_contacted": sent // 2,
        "opened": 0,
        "unique_opened": 0,
        "replies": replies,
        "unique_replies": replies,
        "replies_automatic": 0,
        "unique_replies_automatic": 0,
        "clicks": 0,
        "unique_clicks": 0,
    }


def _int(raw: str | None, name: str, *, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _Invalid(f"querystring/{name} must be integer") from None


def _utc_date(raw: str | None, name: str) -> date | None:
    """Read `YYYY-MM-DD` (UTC midnight) or an ISO instant, as the UTC date it falls on."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid(f"querystring/{name} must be a date") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC).date()


# --- demo activity and ground truth ---------------------------------------------------------------

_SENDERS = (("alice@acme.io", 20.0), ("bob@acme.io", 8.0), ("carol@acme.io", 12.0))
_REPLY_RATE = 0.07


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[InstantlyEvent]:
    """Draw a small team's sends and replies, business days only, office hours in `zone`."""
    events: list[InstantlyEvent] = []
    day = first_day
    while day <= last_day:
        rng = random.Random(f"instantly:{seed}:{day.isoformat()}")
        if day.weekday() < 5:
            for account, mean in _SENDERS:
                for _ in range(max(0, round(rng.gauss(mean, mean / 5)))):
                    local = datetime.combine(day, time(8), tzinfo=zone) + timedelta(seconds=rng.randrange(10 * 3600))
                    at = local.astimezone(UTC)
                    campaign = rng.choice(DEMO_CAMPAIGNS)
                    events.append(InstantlyEvent("sent", account, at, campaign))
                    if rng.random() < _REPLY_RATE:
                        later = at + timedelta(minutes=rng.randrange(30, 20 * 60))
                        events.append(InstantlyEvent("reply", account, later, campaign))
        day += timedelta(days=1)
    return sorted(events, key=lambda e: e.at)


def expected_counts(
    events: Sequence[InstantlyEvent], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """The counts a faithful connector reports for `[start, end)`, keyed (metric, account, day).

    Instantly's days are UTC days and a daily count cannot be split, so UTC date D counts as
    local day D, for each D from the local day of `start` to the local day of `end`'s last instant.
    """
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    counts: dict[tuple[str, str, date], float] = {}
    for event in events:
        day = event.at.astimezone(UTC).date()
        if first <= day <= last:
            key = ("emails_sent" if event.kind == "sent" else "replies", event.account.lower(), day)
            counts[key] = counts.get(key, 0.0) + 1.0
    return counts
