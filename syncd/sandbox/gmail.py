"""A fake Gmail API (`/gmail/v1`): messages.list with Gmail's search, getProfile, Bearer auth, per-user quota.

Faithful to what the reference records about Gmail; where the vendor is silent we choose:
- `q` understands `in:sent` / `label:sent` / `in:inbox`, `after:` and `before:` (also `newer:` /
  `older:`). A bound is epoch seconds or `YYYY/MM/DD`, the latter read as midnight Pacific time
  (the quirk the guides warn about). `after` is inclusive and `before` exclusive, as the guide's
  January example implies. Other terms answer 400 `invalidArgument`.
- messages come newest first, `{messages: [{id, threadId}], nextPageToken, resultSizeEstimate}`;
  `messages` and `nextPageToken` are left out when empty, and `resultSizeEstimate` is rounded up
  to a multiple of 100 when over 100 (an estimate, as documented). `maxResults` defaults to 100,
  at most 500; a page token is opaque.
- the mailbox holds received mail too (label `INBOX`), which `in:sent` must leave out.
- `userId` `me` is the token owner's mailbox; another address in the data is served as if the
  token had domain-wide delegation; an unknown one answers 403 `Delegation denied`.
- quota: 15,000 units per user in a rolling minute (list 5, getProfile 1); over it the answer is
  403 with reason `userRateLimitExceeded`, the shape Google documents for per-user limits.
- errors are `{"error": {"code", "message", "errors": [{"message", "domain", "reason"}], "status"}}`.

Demo identities: alice@acme.io (the token's owner, `me`), bob@acme.io and carol@acme.io; each
person's `gmail` identity is their address, and each source reads one mailbox.
"""

from __future__ import annotations

import base64
import hmac
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "DEMO_MAILBOXES",
    "GMAIL_UNITS_PER_MINUTE",
    "GmailFake",
    "GmailMessage",
    "demo_events",
    "expected_counts",
]

GMAIL_UNITS_PER_MINUTE = 15_000
LIST_UNITS, PROFILE_UNITS = 5, 1
DEFAULT_MAX_RESULTS, MAX_RESULTS = 100, 500
PACIFIC = ZoneInfo("America/Los_Angeles")
DEMO_MAILBOXES = {"alice": "alice@acme.io", "bob": "bob@acme.io", "carol": "carol@acme.io"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class GmailMessage:
    """One message in `mailbox`, sent (label SENT) or received (label INBOX) at `internal_date`."""

    mailbox: str
    id: str
    thread_id: str
    internal_date: datetime
    labels: tuple[str, ...] = ("SENT",)


def _error(code: int, status: str, reason: str, message: str) -> web.Response:
    error = {"message": message, "domain": "global" if code != 403 else "usageLimits", "reason": reason}
    body = {"error": {"code": code, "message": message, "errors": [error], "status": status}}
    return web.json_response(body, status=code)


class _Invalid(Exception):
    """A parameter the fake refuses (400 invalidArgument)."""


class GmailFake:
    """The Gmail fake: build its aiohttp application with `app()`."""

    def __init__(
        self,
        events: Sequence[GmailMessage],
        clock: Clock,
        api_key: str,
        owner: str = DEMO_MAILBOXES["alice"],
        units_per_minute: int = GMAIL_UNITS_PER_MINUTE,
    ) -> None:
        self._events, self._clock, self._api_key = list(events), clock, api_key
        self._owner, self._units_per_minute = owner, units_per_minute
        self._spent: dict[str, deque[tuple[float, int]]] = {}

    def app(self) -> web.Application:
        """Return the application serving `/gmail/v1/...`."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/gmail/v1/users/{user_id}/messages", self._list)
        app.router.add_get("/gmail/v1/users/{user_id}/profile", self._profile)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token or not hmac.compare_digest(token.encode(), self._api_key.encode()):
            return _error(401, "UNAUTHENTICATED", "authError", "Request had invalid authentication credentials.")
        mailbox = self._mailbox(request.match_info.get("user_id", ""))
        if mailbox is None:
            return _error(403, "PERMISSION_DENIED", "forbidden", "Delegation denied for " + self._owner)
        cost = LIST_UNITS if request.path.endswith("/messages") else PROFILE_UNITS
        if not self._spend(mailbox, cost):
            return _error(403, "PERMISSION_DENIED", "userRateLimitExceeded", "User-rate limit exceeded. Retry later.")
        try:
            return await handler(request)
        except _Invalid as e:
            return _error(400, "INVALID_ARGUMENT", "invalidArgument", str(e))

    def _mailbox(self, user_id: str) -> str | None:
        if user_id in ("me", self._owner):
            return self._owner
        return user_id if any(e.mailbox == user_id for e in self._events) else None

    def _spend(self, mailbox: str, cost: int) -> bool:
        now = self._clock.monotonic()
        spent = self._spent.setdefault(mailbox, deque())
        while spent and spent[0][0] <= now - 60.0:
            spent.popleft()
        if sum(units for _, units in spent) + cost > self._units_per_minute:
            return False
        spent.append((now, cost))
        return True

    async def _profile(self, request: web.Request) -> web.StreamResponse:
        mailbox = self._mailbox(request.match_info["user_id"]) or self._owner
        mine = [e for e in self._events if e.mailbox == mailbox and e.internal_date <= self._clock.now()]
        return web.json_response(
            {
                "emailAddress": mailbox,
                "messagesTotal": len(mine),
                "threadsTotal": len({e.thread_id for e in mine}),
                "historyId": str(100_000 + len(mine)),
            }
        )

    async def _list(self, request: web.Request) -> web.StreamResponse:
        mailbox = self._mailbox(request.match_info["user_id"]) or self._owner
        q = request.query
        label, after, before = _parse_query(q.get("q", ""))
        labels = set(q.getall("labelIds", []))
        max_results = _int(q.get("maxResults"), DEFAULT_MAX_RESULTS)
        if not 1 <= max_results <= MAX_RESULTS:
            raise _Invalid(f"maxResults must be between 1 and {MAX_RESULTS}")
        now = self._clock.now()
        found = sorted(
            (
                e
                for e in self._events
                if e.mailbox == mailbox
                and e.internal_date <= now
                and (label is None or label in e.labels)
                and labels <= set(e.labels)
                and (after is None or e.internal_date >= after)
                and (before is None or e.internal_date < before)
            ),
            key=lambda e: (e.internal_date, e.id),
            reverse=True,
        )
        offset = _decode_token(q["pageToken"]) if q.get("pageToken") else 0
        page = found[offset : offset + max_results]
        body: dict[str, object] = {"resultSizeEstimate": _estimate(len(found))}
        if page:
            body["messages"] = [{"id": e.id, "threadId": e.thread_id} for e in page]
        if offset + max_results < len(found):
            body["nextPageToken"] = _encode_token(offset + max_results)
        return web.json_response(body)


def _parse_query(q: str) -> tuple[str | None, datetime | None, datetime | None]:
    label: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    for term in q.split():
        name, _, value = term.partition(":")
        name = name.lower()
        if name in ("in", "label") and value.lower() in ("sent", "inbox"):
            label = value.upper()
        elif name in ("after", "newer"):
            after = _bound(value)
        elif name in ("before", "older"):
            before = _bound(value)
        else:
            raise _Invalid(f"Invalid search term: {term}")
    return label, after, before


def _bound(value: str) -> datetime:
    """Read epoch seconds, or `YYYY/MM/DD` as midnight Pacific time (Gmail's documented quirk)."""
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    try:
        day = datetime.strptime(value, "%Y/%m/%d").replace(tzinfo=PACIFIC)
    except ValueError:
        raise _Invalid(f"Invalid date in search: {value}") from None
    return day


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        raise _Invalid("maxResults must be an integer") from None


def _estimate(total: int) -> int:
    return total if total <= 100 else -(-total // 100) * 100


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset:012d}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not raw.startswith("o"):
            raise ValueError(raw)
        return int(raw[1:])
    except ValueError:
        raise _Invalid("Invalid pageToken") from None


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[GmailMessage]:
    """Return the demo team's mail: outreach sent in office hours on weekdays, and replies received."""
    events: list[GmailMessage] = []
    day = first_day
    while day <= last_day:
        rng = random.Random(f"gmail:{seed}:{day.isoformat()}")
        weekday = day.weekday() < 5
        for person, mailbox in DEMO_MAILBOXES.items():
            sent = rng.randint(4, 14) if weekday else rng.randint(0, 2)
            received = rng.randint(2, 8)
            for n in range(sent + received):
                hour = rng.randint(7, 18) if n < sent else rng.randint(0, 23)
                at = datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), zone)
                message_id = f"{person[0]}{day:%Y%m%d}{n:03d}"
                events.append(
                    GmailMessage(
                        mailbox,
                        message_id,
                        f"t{message_id}",
                        at,
                        ("SENT",) if n < sent else ("INBOX", "UNREAD"),
                    )
                )
        day += timedelta(days=1)
    return events


def expected_counts(
    events: Sequence[GmailMessage], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """Return the ground truth: sent messages per (emails_sent, mailbox address, local day)."""
    counts: dict[tuple[str, str, date], float] = {}
    for e in events:
        if "SENT" in e.labels and start <= e.internal_date < end:
            key = ("emails_sent", e.mailbox, e.internal_date.astimezone(zone).date())
            counts[key] = counts.get(key, 0.0) + 1.0
    return counts
